import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packSkips, reasonParts, reasonText, unpackSkips } from '../../src/domain/skip-reasons.js';
import { newSessionState, noteSkips, packedState, unpackedState } from '../../src/domain/session-state.js';
import { appendEvents } from '../../src/domain/progress-log.js';
import { skipEvents } from '../../src/domain/progress-log.js';
import { parseDrainInput } from '../../src/domain/input.js';
import type { SkipRecord } from '../../src/domain/types.js';

const FP = `PATCH|patch apply failed in ${'src/very/long/path/'.repeat(8)}module.py hunk N|sha256:${'ab'.repeat(8)}`;
const memory = (fp: string, session = 'batch-drain-20261207-010000', at = '2026-12-07T01:02:03.456Z') =>
  `fingerprint ${fp} stopped by session ${session} at ${at} (failure memory: drain memory clear, or --ignore-memory)`;

const REASONS: Array<[string, string]> = [
  ['memory', memory(FP)],
  ['memory', memory('odd fingerprint ) stopped by session x at y', 'id with spaces')],
  ['total', 'phase attempted 7 times across sessions (limit: 5, --max-attempts-per-phase-total)'],
  ['attempts', 'phase already attempted 2 times (limit: 2)'],
  ['queued', 'run r 1 has 3 queued phase(s) (skip-runs-with-queued)'],
  ['timeouts', 'run ジョブ has 2 timeouts (limit: 2)'],
  ['taken', 'run r was taken by another session between pick and lease'],
  ['lease', 'run r is being drained by session batch-drain-x'],
  ['prefix', 'run tmp-1 matches skip-run-prefix tmp-'],
  ['text', 'a reason of another release'],
  ['text', ''],
  ['text', 'phase already attempted 2 times (limit: 2) and more'],
];

test('reasonParts: a code and what varies, and the text rebuilt exactly', () => {
  for (const [code, reason] of REASONS) {
    const [got, values] = reasonParts(reason);
    assert.equal(got, code, reason);
    assert.equal(reasonText(got, values), reason);
  }
});

test('packSkips / unpackSkips round-trip skips and log reasons; strings are stored once', () => {
  const list: SkipRecord[] = REASONS.map(([, reason], i) => ({
    runId: `run ${i % 3}`,
    phaseId: `p${i}`,
    reason,
  }));
  const events = [
    { kind: 'select', seq: 1 },
    ...skipEvents(list.slice(0, 4)).map((e, i) => ({ ...e, seq: i + 2 })),
  ];
  const { packed, events: carried } = packSkips(list, events);
  assert.ok(carried.every((e) => !('reason' in e) || e.reason === ''));
  const back = unpackSkips(packed, carried);
  assert.deepEqual(back.skipped, list);
  assert.deepEqual(back.events, events);
  assert.equal(new Set(packed.strings).size, packed.strings.length);
});

test('a hundred failure-memory skips under a few fingerprints pack to a fraction of their text', () => {
  const list: SkipRecord[] = Array.from({ length: 100 }, (_, i) => ({
    runId: `autopack-run-${String(i % 10).padStart(4, '0')}`,
    phaseId: `phase-${i}`,
    reason: memory(`${FP}-${i % 3}`),
  }));
  const text = JSON.stringify(list).length;
  const packed = JSON.stringify(packSkips(list).packed).length;
  assert.ok(packed * 4 < text, `${packed} bytes packed vs ${text} as text`);
});

test('packedState / unpackedState: the state a payload carries comes back whole; old payloads pass', () => {
  const config = parseDrainInput({});
  let s = newSessionState('s', 0, config);
  const skips = REASONS.map(([, reason], i) => ({ runId: `r${i}`, phaseId: `p${i}`, reason }));
  s = noteSkips(s, skips);
  s = { ...s, log: appendEvents(s.log, skipEvents(skips)) };
  const carried = packedState(s);
  assert.deepEqual(carried.skipped, []);
  assert.ok(JSON.stringify(carried).length < JSON.stringify(s).length);
  assert.deepEqual(unpackedState(JSON.parse(JSON.stringify(carried))), s);
  assert.equal(unpackedState(s), s, 'a state without packedSkips (an earlier release) is used as is');
});
