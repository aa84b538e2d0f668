/**
 * The end-of-session notification (src/domain/notification.ts): how a session's end is named,
 * which fingerprints are listed, tokens only when known, the Slack `text`; the webhook URL
 * redaction and parsing of DRAIN_NOTIFY_URL (src/runtime/notify.ts); the retry backoff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildNotification,
  sampleNotification,
  sessionEnd,
  tokensOf,
  topFingerprints,
  type NotificationInput,
} from '../../src/domain/notification.js';
import { redactWebhookUrl } from '../../src/domain/redact.js';
import { backoffMs, parseNotifyUrls, targetKey } from '../../src/runtime/notify.js';

const endCases: Array<[status: string, stopReason: string | null, want: string]> = [
  ['completed', 'no eligible phases left', 'completed'],
  ['completed', null, 'completed'],
  ['completed', 'stop requested by operator', 'stopped'],
  ['cancelled', 'cancelled', 'cancelled'],
  ['FAILED', null, 'failed'],
  ['TERMINATED', null, 'failed'],
  ['TIMED_OUT', null, 'failed'],
];
for (const [status, reason, want] of endCases) {
  test(`a session ${status} with stop reason ${String(reason)} ended "${want}"`, () => {
    assert.equal(sessionEnd(status, reason), want);
  });
}

const tokenCases: Array<[json: Record<string, unknown> | null, want: unknown]> = [
  [null, undefined],
  [{ total_processed: 3 }, undefined],
  [
    { tokens_spent: 1200, tokens_wasted: 300 },
    { spent: 1200, wasted: 300 },
  ],
  [{ total_tokens: 50 }, { spent: 50 }],
  [{ tokens: { total: 7, wasted: 0 } }, { spent: 7, wasted: 0 }],
  [{ tokens_spent: null, tokens_wasted: 'n/a' }, undefined],
];
for (const [json, want] of tokenCases) {
  test(`tokens of ${JSON.stringify(json)} are ${JSON.stringify(want)}`, () => {
    assert.deepEqual(tokensOf(json), want);
  });
}

test('top fingerprints: the most frequent first, ties by name, at most five, none counted 0', () => {
  const counts = { b: 2, a: 2, c: 9, d: 1, e: 1, f: 1, z: 0 };
  assert.deepEqual(
    topFingerprints(counts).map((f) => `${f.fingerprint}:${f.count}`),
    ['c:9', 'a:2', 'b:2', 'd:1', 'e:1'],
  );
  assert.deepEqual(topFingerprints(undefined), []);
});

const base: NotificationInput = {
  sessionId: 'nightly-7',
  status: 'completed',
  json: {
    started_at: '2026-12-07T01:00:00.000Z',
    completed_at: '2026-12-07T05:00:00.000Z',
    stop_reason: 'no eligible phases left',
    total_processed: 1234,
    total_success: 1000,
    total_failed: 200,
    total_timeouts: 34,
    total_cancelled: 0,
    fingerprint_counts: { 'ImportError: cannot import name <name>': 150, AssertionError: 50 },
  },
  verdict: { verdict: 'FAIL', failedCriteria: [2, 5] },
  host: 'drain-host-1',
  sessionJsonPath: '/w/.autonomous_runs/batch_drain_sessions/nightly-7.json',
};

const textCases: Array<[name: string, input: NotificationInput, has: RegExp[], hasNot: RegExp[]]> = [
  [
    'a completed session',
    base,
    [
      /^:warning: Drain session nightly-7 completed: verify FAIL \(criteria 2, 5\)$/m,
      /^1,234 processed: 1,000 succeeded, 200 failed, 34 timed out$/m,
      /^Top failure \(150×\): ImportError: cannot import name <name>$/m,
      /^Report: drain report nightly-7 --html nightly-7\.html \(on drain-host-1\)$/m,
    ],
    [/Tokens/],
  ],
  [
    'a passing session with tokens',
    {
      ...base,
      verdict: { verdict: 'PASS', failedCriteria: [] },
      json: { ...base.json, tokens_spent: 1234567, tokens_wasted: 89 } as NotificationInput['json'],
    },
    [
      /^:white_check_mark: Drain session nightly-7 completed: verify PASS$/m,
      /^Tokens: 1,234,567 spent, 89 on known failures$/m,
    ],
    [],
  ],
  [
    'a stopped session',
    { ...base, json: { ...base.json, stop_reason: 'stop requested by operator' } },
    [/Drain session nightly-7 stopped:/, /^Stop reason: stop requested by operator$/m],
    [],
  ],
  [
    'a failed session without a file, verify not run',
    {
      ...base,
      status: 'TERMINATED',
      json: null,
      verdict: { error: 'database unreachable' },
      sessionJsonPath: null,
    },
    [/^:warning: Drain session nightly-7 failed: verify n\/a$/m, /^Stop reason: workflow terminated$/m],
    [/processed/, /Top failure/],
  ],
];
for (const [name, input, has, hasNot] of textCases) {
  test(`text of ${name}`, () => {
    const n = buildNotification(input);
    for (const re of has) assert.match(n.text, re);
    for (const re of hasNot) assert.doesNotMatch(n.text, re);
  });
}

test('the payload: end, verdict, totals, tokens only when known, where the files are', () => {
  const n = buildNotification(base);
  assert.equal(n.kind, 'autopack-drain.session.ended');
  assert.equal(n.end, 'completed');
  assert.equal(n.verdict, 'FAIL');
  assert.deepEqual(n.failed_criteria, [2, 5]);
  assert.deepEqual(n.totals, { processed: 1234, succeeded: 1000, failed: 200, timeouts: 34, cancelled: 0 });
  assert.equal('tokens' in n, false);
  assert.equal(n.session_json, base.sessionJsonPath);
  assert.equal(n.host, 'drain-host-1');
  const failed = buildNotification({ ...base, json: null, status: 'FAILED', verdict: { error: 'x' } });
  assert.equal(failed.totals, null);
  assert.equal(failed.verdict, null);
  assert.equal(failed.verify_error, 'x');
  assert.match(sampleNotification('h').text, /^\[test of drain notify\] /);
});

const urlCases: Array<[url: string, shown: string]> = [
  ['https://hooks.slack.com/services/T000/B000/XXXXXXXX', 'https://hooks.slack.com/***'],
  ['http://user:pw@127.0.0.1:8080/hook?token=abc', 'http://127.0.0.1:8080/***'],
  ['https://example.org', 'https://example.org/***'],
  ['not a url/secret', '***'],
];
for (const [url, shown] of urlCases) {
  test(`webhook ${shown} is shown without its path, query or userinfo`, () => {
    assert.equal(redactWebhookUrl(url), shown);
  });
}

test('DRAIN_NOTIFY_URL: several URLs separated by whitespace or commas, each once; not URLs refused', () => {
  assert.deepEqual(parseNotifyUrls(undefined), []);
  assert.deepEqual(parseNotifyUrls('  '), []);
  assert.deepEqual(parseNotifyUrls('https://a.example/x, https://b.example/y\nhttps://a.example/x'), [
    'https://a.example/x',
    'https://b.example/y',
  ]);
  assert.throws(
    () => parseNotifyUrls('https://a.example/x ftp://b.example/secret-path'),
    (err: Error) => {
      assert.match(err.message, /not an http\(s\) URL: ftp:\/\/b\.example\/\*\*\*/);
      assert.doesNotMatch(err.message, /secret-path/);
      return true;
    },
  );
  assert.match(targetKey('https://a.example/x'), /^[0-9a-f]{16}$/);
});

test('backoff doubles from the first delay up to the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 40].map((n) => backoffMs(n, 1000, 10_000)),
    [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
  );
});
