/** drain verify output: the verdict line, default text, Markdown block and JSON document. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SHOWN_ITEMS,
  capped,
  evidenceLines,
  formatVerifyJson,
  formatVerifyMarkdown,
  formatVerifyText,
  inlineValue,
  verdictLine,
} from '../../src/domain/verify-format.js';
import {
  CRITERIA_TITLES,
  type CriterionResult,
  type CriterionStatus,
  type VerifyResult,
} from '../../src/domain/verify.js';

function result(statuses: CriterionStatus[], problems: Record<number, string[]> = {}): VerifyResult {
  const criteria: CriterionResult[] = statuses.map((status, i) => ({
    id: i + 1,
    title: CRITERIA_TITLES[i],
    status,
    summary: `summary ${i + 1}`,
    evidence: { attempts: 2, list: [] },
    problems: problems[i + 1] ?? [],
  }));
  return {
    sessionId: 's-1',
    verdict: statuses.includes('FAIL') ? 'FAIL' : 'PASS',
    criteria,
  };
}

const ALL_PASS: CriterionStatus[] = ['PASS', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'];

describe('verdictLine', () => {
  const cases: Array<[CriterionStatus[], string]> = [
    [ALL_PASS, 'Verdict: PASS (6/6 criteria)'],
    [['PASS', 'PASS', 'N/A', 'PASS', 'PASS', 'N/A'], 'Verdict: PASS (6/6 criteria)'],
    [['PASS', 'FAIL', 'PASS', 'FAIL', 'PASS', 'PASS'], 'Verdict: FAIL (criteria 2, 4 failed)'],
    [['PASS', 'PASS', 'FAIL', 'PASS', 'N/A', 'PASS'], 'Verdict: FAIL (criterion 3 failed)'],
  ];
  for (const [statuses, line] of cases) {
    test(`${statuses.join(' ')} → ${line}`, () => assert.equal(verdictLine(result(statuses)), line));
  }
});

describe('text', () => {
  test('one line per criterion, problems indented, then the verdict', () => {
    const r = result(['PASS', 'FAIL', 'PASS', 'PASS', 'N/A', 'PASS'], {
      2: ['a/b attempt 1: "Unknown error"'],
    });
    assert.equal(
      formatVerifyText(r),
      [
        'Session s-1',
        '[PASS] 1. No Silent Failures: summary 1',
        '[FAIL] 2. No "Unknown error" without evidence: summary 2',
        '    - a/b attempt 1: "Unknown error"',
        '[PASS] 3. Correct Phase Selection Safety: summary 3',
        '[PASS] 4. Environment/Identity Consistency: summary 4',
        '[N/A] 5. Throughput / Stability: summary 5',
        '[PASS] 6. Telemetry Viability: summary 6',
        'Verdict: FAIL (criterion 2 failed)',
      ].join('\n'),
    );
  });

  test('long problem lists are cut after SHOWN_ITEMS with a pointer to --json', () => {
    const many = Array.from({ length: SHOWN_ITEMS + 5 }, (_, i) => `problem ${i}`);
    const text = formatVerifyText(result(['FAIL', 'PASS', 'PASS', 'PASS', 'PASS', 'PASS'], { 1: many }));
    assert.equal(text.split('\n').filter((l) => l.startsWith('    - problem')).length, SHOWN_ITEMS);
    assert.match(text, /    - … and 5 more \(see --json\)/);
  });
});

describe('json', () => {
  test('exactly sessionId, verdict and criteria with id, title, status, evidence, problems', () => {
    const r = result(['PASS', 'PASS', 'N/A', 'PASS', 'FAIL', 'PASS'], { 5: ['leak'] });
    const j = JSON.parse(formatVerifyJson(r));
    assert.deepEqual(Object.keys(j), ['sessionId', 'verdict', 'criteria']);
    assert.equal(j.verdict, 'FAIL');
    assert.deepEqual(
      j.criteria.map((c: Record<string, unknown>) => Object.keys(c)),
      Array(6).fill(['id', 'title', 'status', 'evidence', 'problems']),
    );
    assert.deepEqual(
      j.criteria.map((c: { id: number; status: string }) => [c.id, c.status]),
      [
        [1, 'PASS'],
        [2, 'PASS'],
        [3, 'N/A'],
        [4, 'PASS'],
        [5, 'FAIL'],
        [6, 'PASS'],
      ],
    );
    assert.deepEqual(j.criteria[4].problems, ['leak']);
  });
});

describe('markdown', () => {
  test('the acceptance-criteria block with status, summary, evidence and problems per criterion', () => {
    const r = result(['PASS', 'PASS', 'PASS', 'FAIL', 'PASS', 'N/A'], {
      4: ['x: exited 0 but the phase did not change'],
    });
    const md = formatVerifyMarkdown(r);
    const lines = md.split('\n');
    assert.equal(lines[0], '**Batch Drain Health Acceptance Criteria (must all pass)**');
    assert.equal(lines[2], 'Session `s-1`: **FAIL** (5/6 criteria pass; N/A counts as passing)');
    assert.ok(lines.includes('1. **No Silent Failures** — **PASS**'));
    assert.ok(lines.includes('6. **Telemetry Viability** — **N/A**'));
    assert.ok(lines.includes('   - summary 4'));
    assert.ok(lines.includes('   - attempts: 2'));
    assert.ok(lines.includes('   - list: none'));
    assert.ok(lines.includes('   - ❌ x: exited 0 but the phase did not change'));
    assert.equal(lines[lines.length - 1], 'Verdict: FAIL (criterion 4 failed)');
  });
});

describe('evidence rendering', () => {
  const values: Array<[unknown, string]> = [
    [null, 'n/a'],
    [undefined, 'n/a'],
    [3, '3'],
    [false, 'false'],
    [[], 'none'],
    [['a', 'b'], 'a, b'],
    [{ queued: 0, failed: 2 }, 'queued=0, failed=2'],
    [{ before: { queued: 1 }, n: null }, 'before={"queued":1}, n=n/a'],
    [[{ a: 1 }], '[{"a":1}]'],
  ];
  for (const [v, s] of values) {
    test(`inlineValue(${JSON.stringify(v)}) = ${s}`, () => assert.equal(inlineValue(v), s));
  }

  test('lists of objects and long lists: one item per line', () => {
    assert.deepEqual(
      evidenceLines({ n: 1, retried: [{ run_id: 'r', before: { queued: 0 } }], short: ['x', 'y'] }, ''),
      ['- n: 1', '- retried:', '  - run_id=r, before={"queued":0}', '- short: x, y'],
    );
    const long = evidenceLines({ ids: ['1', '2', '3', '4', '5', '6'] }, '  ');
    assert.deepEqual(long, ['  - ids:', '    - 1', '    - 2', '    - 3', '    - 4', '    - 5', '    - 6']);
  });

  test('capped', () => {
    assert.deepEqual(capped(['a']), ['a']);
    const many = Array.from({ length: SHOWN_ITEMS + 1 }, String);
    assert.equal(capped(many).length, SHOWN_ITEMS + 1);
    assert.equal(capped(many, (n) => `+${n}`).at(-1), '+1');
  });
});
