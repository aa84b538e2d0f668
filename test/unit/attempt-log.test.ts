/** The attempt log's own lines (src/domain/attempt-log.ts): written and parsed by one module. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  afterHeader,
  attemptLogHeader,
  attemptLogTrailer,
  EXIT_TRAILER_LINE,
  headerLength,
  notRunTrailer,
  ownLogLines,
} from '../../src/domain/attempt-log.js';

const header = (over: Partial<Parameters<typeof attemptLogHeader>[0]> = {}) =>
  attemptLogHeader({
    databaseUrl: 'postgresql://u:secret@db/x',
    apiUrl: null,
    sessionId: 's',
    runId: 'r',
    phaseId: 'p',
    attempt: 2,
    tryNo: 1,
    argv: ['drain-sim', '--run-id', 'r'],
    cwd: '/w',
    startedAt: new Date('2026-01-02T03:04:05.000Z'),
    timeoutSeconds: 60,
    ...over,
  });

test('the header: identity lines redacted, the try, limits, ended by # ---', () => {
  const h = header({ maxTimeoutSeconds: 120, stallSeconds: 5, maxTokensPerPhase: 1000 });
  const lines = h.split('\n');
  assert.ok(lines[0].startsWith('DATABASE_URL=') && !lines[0].includes('secret'));
  assert.equal(lines[1], 'AUTOPACK_API_URL=(not set)');
  assert.equal(lines[2], '# autopack-drain session=s run_id=r phase_id=p attempt=2 try=1');
  assert.equal(lines[3], '# command: ["drain-sim","--run-id","r"]');
  assert.equal(lines[4], '# cwd: /w');
  assert.equal(
    lines[5],
    '# started_at: 2026-01-02T03:04:05.000Z timeout: 60s max: 120s while writing output stall: 5s tokens: 1000',
  );
  assert.equal(lines[6], '# ---');
  assert.ok(h.endsWith('# ---\n'));
  assert.ok(header({ notRun: 'abandoned' }).endsWith('# ---\n# not run: abandoned\n'));
});

test('trailers: notes, exit code and signal, duration; not run', () => {
  assert.equal(
    attemptLogTrailer(['timed out after 3s', null, false, ''], {
      returnCode: null,
      signal: 'SIGTERM',
      durationSeconds: 3.2,
    }),
    '\n# --- timed out after 3s; exit code none (signal SIGTERM) after 3.2s\n',
  );
  assert.equal(
    attemptLogTrailer([], { returnCode: 0, signal: null, durationSeconds: 1 }),
    '\n# --- exit code 0 after 1s\n',
  );
  assert.equal(notRunTrailer('lease held'), '\n# --- not run: lease held\n');
});

test('parsing: the header length, the text after it, our header and trailer lines', () => {
  const h = header();
  const trailer = attemptLogTrailer([], { returnCode: 1, signal: null, durationSeconds: 2 });
  const text = `${h}out 1\nout 2${trailer}`;
  assert.equal(headerLength(text), h.length);
  assert.equal(headerLength('no header here'), 0);
  assert.equal(afterHeader(text), `out 1\nout 2${trailer}`);
  assert.equal(afterHeader('plain'), null);
  const own = ownLogLines(text);
  assert.equal(own.header, h.slice(0, h.indexOf('\n# ---\n')));
  assert.equal(own.trailer, trailer);
  assert.ok(EXIT_TRAILER_LINE.test(text.trimEnd().split('\n').pop()!));
  assert.deepEqual(ownLogLines('output only'), { header: null, trailer: null });
});
