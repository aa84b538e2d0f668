/**
 * The T0 baseline decision (should this drain capture, reuse, wait or stop trying?) and the
 * small helpers around a capture: status and error sentence from the exit facts, file names,
 * whether a capture fits in the time left; and the captures in the session JSON and summary.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FAILED_CAPTURES,
  captureError,
  captureFileName,
  captureFits,
  captureStatusOf,
  captureTempName,
  decideBaseline,
  exhaustedError,
  type CaptureFact,
} from '../../src/domain/baseline-decision.js';
import type { CaptureRow } from '../../src/db/baselines.js';
import { parseDrainInput } from '../../src/domain/input.js';
import { buildSessionJson, snapshotOf } from '../../src/domain/report-json.js';
import { baselineCaptureLines, formatSummary } from '../../src/domain/report-text.js';
import { newSessionState } from '../../src/domain/session-state.js';
import type { DrainConfig } from '../../src/domain/types.js';

let nextId = 0;
const row = (status: string, over: Partial<CaptureFact> = {}): CaptureFact => ({
  id: String(++nextId),
  status,
  expired: false,
  error: status === 'ok' || status === 'running' ? null : `${status} #${nextId}`,
  artifactPath: status === 'ok' ? `/ws/.autonomous_runs/baselines/abc.c${nextId}.txt` : null,
  ...over,
});
const stale = () => row('running', { expired: true });

/** The decision without ids: kind plus the fields that matter. */
function summary(rows: CaptureFact[], canCapture = true): string {
  const d = decideBaseline(rows, { canCapture });
  const expire = d.expire.map((id) => rows.findIndex((r) => r.id === id)).join(',');
  const at = (c: CaptureFact) => rows.indexOf(c);
  const x = expire ? ` expire[${expire}]` : '';
  switch (d.kind) {
    case 'reuse':
      return `reuse ${at(d.capture)}${x}`;
    case 'wait':
      return `wait ${at(d.capture)}${x}`;
    case 'capture':
      return `capture #${d.attempt}${x}`;
    case 'no-time':
      return `no-time${x}`;
    case 'exhausted':
      return `exhausted ${d.failures} last ${at(d.last)}${x}`;
  }
}

describe('decideBaseline', () => {
  const cases: Array<[name: string, rows: () => CaptureFact[], expected: string, canCapture?: boolean]> = [
    ['no capture yet: capture #1', () => [], 'capture #1'],
    ['a good capture: reuse it', () => [row('ok')], 'reuse 0'],
    ['a good capture after failures: reuse it', () => [row('failed'), row('timeout'), row('ok')], 'reuse 2'],
    ['one failed capture: try again as #2', () => [row('failed')], 'capture #2'],
    ['two failures (exit, timeout): try again as #3', () => [row('failed'), row('timeout')], 'capture #3'],
    [
      `${MAX_FAILED_CAPTURES} failed captures: stop trying`,
      () => [row('failed'), row('timeout'), row('failed')],
      'exhausted 3 last 2',
    ],
    [
      'interrupted captures count as failed',
      () => [row('interrupted'), row('failed'), row('interrupted')],
      'exhausted 3 last 2',
    ],
    ['another capture is running: wait for it', () => [row('failed'), row('running')], 'wait 1'],
    [
      'running with failures at the bound minus one: still wait',
      () => [row('failed'), row('failed'), row('running')],
      'wait 2',
    ],
    ['a lapsed claim: mark it interrupted and capture', () => [stale()], 'capture #2 expire[0]'],
    [
      'a lapsed claim counts as a failure towards the bound',
      () => [row('failed'), row('failed'), stale()],
      'exhausted 3 last 2 expire[2]',
    ],
    ['a good capture wins over a running one', () => [row('ok'), row('running')], 'reuse 0'],
    [
      'a good capture wins over a lapsed one, which is still expired',
      () => [stale(), row('ok')],
      'reuse 1 expire[0]',
    ],
    ['a capture is due but does not fit in the time left', () => [row('failed')], 'no-time', false],
    ['waiting does not need time for a capture', () => [row('running')], 'wait 0', false],
    [
      'exhausted does not need time either',
      () => [row('failed'), row('failed'), row('failed')],
      'exhausted 3 last 2',
      false,
    ],
  ];
  for (const [name, rows, expected, canCapture] of cases) {
    test(name, () => assert.equal(summary(rows(), canCapture ?? true), expected));
  }

  test('the bound is a parameter', () => {
    assert.equal(decideBaseline([row('failed')], { maxFailed: 1 }).kind, 'exhausted');
    assert.equal(decideBaseline([row('failed')], { maxFailed: 2 }).kind, 'capture');
  });
});

describe('captureStatusOf', () => {
  type Facts = Parameters<typeof captureStatusOf>[0];
  const base: Facts = { spawnError: null, timedOut: false, cancelled: false, exitCode: 0 };
  const cases: Array<[name: string, over: Partial<Facts>, string]> = [
    ['exit 0', {}, 'ok'],
    ['exit 3', { exitCode: 3 }, 'failed'],
    ['killed by a signal (no exit code)', { exitCode: null }, 'failed'],
    ['could not be started', { spawnError: 'ENOENT', exitCode: null }, 'failed'],
    ['our timeout, even if it then exited 0', { timedOut: true }, 'timeout'],
    ['our timeout, killed', { timedOut: true, exitCode: null }, 'timeout'],
    ['cancelled', { cancelled: true, exitCode: null }, 'interrupted'],
  ];
  for (const [name, over, expected] of cases) {
    test(name, () => assert.equal(captureStatusOf({ ...base, ...over }), expected));
  }
});

describe('captureError', () => {
  const base = {
    spawnError: null as string | null,
    exitCode: 0 as number | null,
    signal: null as string | null,
    timeoutSeconds: 30,
    durationSeconds: 1.5,
    outputPath: '/ws/b/k.c7.failed.txt' as string | null,
  };
  const cases: Array<[Parameters<typeof captureError>[0], string | null]> = [
    [{ ...base, status: 'ok' }, null],
    [
      { ...base, status: 'failed', exitCode: 3 },
      'baseline command exited 3 after 1.5s; output: /ws/b/k.c7.failed.txt',
    ],
    [
      { ...base, status: 'failed', exitCode: null, signal: 'SIGKILL' },
      'baseline command was killed by SIGKILL after 1.5s; output: /ws/b/k.c7.failed.txt',
    ],
    [
      { ...base, status: 'failed', exitCode: null, spawnError: 'spawn nope ENOENT', outputPath: null },
      'baseline command could not be started: spawn nope ENOENT',
    ],
    [
      { ...base, status: 'timeout', exitCode: null, signal: 'SIGTERM' },
      'baseline command timed out after 30s; its process group was killed; output: /ws/b/k.c7.failed.txt',
    ],
    [
      { ...base, status: 'interrupted', exitCode: null },
      'baseline capture cancelled after 1.5s; output: /ws/b/k.c7.failed.txt',
    ],
  ];
  for (const [facts, expected] of cases) {
    test(`${facts.status} ${facts.exitCode ?? facts.signal ?? facts.spawnError ?? ''}`, () =>
      assert.equal(captureError(facts), expected));
  }

  test('exhaustedError names the count, the key and the last error', () => {
    assert.equal(
      exhaustedError('abc', 3, row('failed', { error: 'baseline command exited 3 after 0.1s' })),
      '3 baseline captures of abc failed (last: baseline command exited 3 after 0.1s); not capturing it again',
    );
  });
});

describe('capture files and time', () => {
  test('each capture has its own file names: temporary, good, failed', () => {
    assert.equal(captureTempName('abc', '12'), '.abc.c12.tmp');
    assert.equal(captureFileName('abc', '12', true), 'abc.c12.txt');
    assert.equal(captureFileName('abc', '12', false), 'abc.c12.failed.txt');
    assert.notEqual(captureFileName('abc', '12', true), captureFileName('abc', '13', true));
  });

  const fits: Array<[remainingMs: number, timeout: number, grace: number, expected: boolean]> = [
    [Number.POSITIVE_INFINITY, 900, 10, true],
    [(900 + 10 + 15) * 1000, 900, 10, true],
    [(900 + 10 + 15) * 1000 - 1, 900, 10, false],
    [20_000, 0, 0, true],
    [10_000, 0, 0, false],
  ];
  for (const [remaining, timeout, grace, expected] of fits) {
    test(`captureFits(${remaining}, ${timeout}, ${grace}) = ${expected}`, () =>
      assert.equal(captureFits(remaining, timeout, grace), expected));
  }
});

describe('the session report: baseline captures', () => {
  const SESSION = 'batch-drain-20251228-060007';
  const captureRow = (id: string, over: Partial<CaptureRow> = {}): CaptureRow => ({
    id,
    commit_sha: '0123456789abcdef0123456789abcdef01234567',
    session_id: SESSION,
    attempt: Number(id),
    status: 'ok',
    exit_code: 0,
    signal: null,
    duration_seconds: 1.5,
    artifact_path: `/ws/.autonomous_runs/baselines/x.c${id}.txt`,
    error: null,
    host: 'h',
    worker_identity: 'h:1',
    pgid: 42,
    backfilled: false,
    started_at: new Date('2025-12-28T06:00:08Z'),
    finished_at: new Date('2025-12-28T06:00:09.5Z'),
    expired: false,
    ...over,
  });
  const json = (captures?: CaptureRow[]) =>
    buildSessionJson({
      snapshot: snapshotOf(newSessionState(SESSION, Date.parse('2025-12-28T06:00:07Z'), CONFIG)),
      config: CONFIG,
      attempts: [],
      status: 'completed',
      completedAt: '2025-12-28T06:10:00Z',
      baselineCaptures: captures,
    });
  const CONFIG: DrainConfig = { ...parseDrainInput({}), continueAsNewAfterEvents: 10_000 };

  test('no captures: no baseline_captures field, no section', () => {
    for (const captures of [undefined, []]) {
      const j = json(captures);
      assert.equal('baseline_captures' in j, false);
      assert.doesNotMatch(formatSummary(j), /Baseline captures/);
    }
  });

  test('captures become plain JSON rows', () => {
    const j = json([captureRow('1', { status: 'failed', exit_code: 3, error: 'baseline command exited 3' })]);
    assert.deepEqual(j.baseline_captures, [
      {
        id: '1',
        commit: '0123456789abcdef0123456789abcdef01234567',
        session_id: SESSION,
        attempt: 1,
        status: 'failed',
        exit_code: 3,
        signal: null,
        duration_seconds: 1.5,
        artifact_path: '/ws/.autonomous_runs/baselines/x.c1.txt',
        error: 'baseline command exited 3',
        started_at: '2025-12-28T06:00:08.000Z',
        finished_at: '2025-12-28T06:00:09.500Z',
      },
    ]);
  });

  const lines: Array<[name: string, row: CaptureRow, line: string]> = [
    ['a good capture', captureRow('1'), '  0123456789ab #1: ok, 1.50s'],
    [
      'a failed one',
      captureRow('2', { status: 'failed', exit_code: 3 }),
      '  0123456789ab #2: failed, 1.50s, exit 3',
    ],
    [
      'a timeout',
      captureRow('3', { status: 'timeout', exit_code: null, signal: 'SIGTERM', duration_seconds: 30.004 }),
      '  0123456789ab #3: timeout, 30.00s, SIGTERM',
    ],
    [
      "another session's capture",
      captureRow('1', { session_id: 'other' }),
      '  0123456789ab #1: ok, 1.50s (session other)',
    ],
    [
      'a running one without a duration',
      captureRow('4', { status: 'running', exit_code: null, duration_seconds: null }),
      '  0123456789ab #4: running, n/a',
    ],
    [
      'outside a git checkout',
      captureRow('1', { commit_sha: `nogit:/ws:${SESSION}` }),
      '  (no git) #1: ok, 1.50s',
    ],
  ];
  for (const [name, r, line] of lines) {
    test(`summary line: ${name}`, () => {
      const text = formatSummary(json([r]));
      const at = text.split('\n').indexOf('Baseline captures:');
      assert.ok(at > 0, text);
      assert.equal(text.split('\n')[at + 1], line);
    });
  }

  test('the section sits before the results by run; malformed entries of a session file are skipped', () => {
    const good = json([captureRow('1')]);
    const j = { ...good, baseline_captures: [null, 'x', ...good.baseline_captures!] } as never;
    const text = formatSummary(j).split('\n');
    const at = text.indexOf('Baseline captures:');
    assert.deepEqual(text.slice(at - 1, at + 4), [
      '',
      'Baseline captures:',
      '  0123456789ab #1: ok, 1.50s',
      '',
      'Results by Run:',
    ]);
    assert.deepEqual(baselineCaptureLines('not an array', SESSION), []);
  });
});
