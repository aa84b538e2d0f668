import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectLlmBoundary, LLM_BOUNDARY_PATTERNS } from '../../src/domain/llm-boundary.js';

const positives: string[] = [
  'stop_reason=max_tokens',
  'Builder output hit max_tokens (4096)',
  'token budget exhausted for phase',
  'TOKEN_ESCALATION requested: 8192 -> 16384',
  "Error code: 400 - {'error': {'code': 'context_length_exceeded'}}",
  "This model's maximum context length is 200000 tokens",
  'prompt is too long: 210000 tokens > 200000 maximum',
  'WARNING: output truncated at 4096 tokens',
  'response was truncated',
  'truncated output detected, escalating',
  '[Builder] Calling LLM for phase p1',
  'calling the LLM (claude-sonnet)',
  'LLM call 1/3 failed',
  'LLM request sent',
  '[Builder] request model=claude tokens=1200',
  '[Auditor] sending prompt (3400 tokens)',
  'anthropic.RateLimitError: rate_limit_error',
  'anthropic API error: overloaded',
  'openai.APIStatusError: Error code: 500',
  'OpenAI returned status 503',
  'HTTP 429 Too Many Requests',
  'rate limited (429), retrying in 5s',
  'overloaded_error',
  'some preamble\nmore lines\n[Auditor] calling model\nend',
];

const negatives: string[] = [
  '',
  'ImportError: cannot import name Builder from autopack.builder',
  "ModuleNotFoundError: No module named 'autopack.builder.llm'",
  'FAILED tests/test_builder.py::test_builder_request - AssertionError',
  'from autopack.llm_client import call_llm',
  'CI collection/import error',
  'TimeoutError: phase timed out after 900s',
  'AssertionError: expected 429 == 200',
  'rate of change 0.5',
  'Deliverables missing: src/tokenizer.py',
  'patch failed to apply: hunk 2 truncated at line 40',
  'KeyError: tokens',
  'Traceback (most recent call last):\n  File "/a/b.py", line 3, in <module>\nSyntaxError: invalid syntax',
  'x'.repeat(1 << 20),
];

for (const s of positives) {
  test(`detectLlmBoundary: yes for ${JSON.stringify(s).slice(0, 70)}`, () => {
    assert.equal(detectLlmBoundary(s), true);
  });
}

for (const s of negatives) {
  test(`detectLlmBoundary: no for ${JSON.stringify(s).slice(0, 70)}`, () => {
    assert.equal(detectLlmBoundary(s), false);
  });
}

test('LLM_BOUNDARY_PATTERNS are stateless (no g or y flag)', () => {
  assert.ok(LLM_BOUNDARY_PATTERNS.length > 0);
  for (const re of LLM_BOUNDARY_PATTERNS) assert.ok(!re.global && !re.sticky, String(re));
  // Repeated calls give the same answer.
  for (let i = 0; i < 3; i++) assert.equal(detectLlmBoundary('stop_reason=max_tokens'), true);
});

const MB = 1 << 20;
const huge: Array<[name: string, input: string]> = [
  ['builder words', 'builder '.repeat(MB / 8)],
  ['anthropic words', 'anthropic '.repeat(MB / 10)],
  ['truncated words', 'truncated '.repeat(MB / 10)],
  ['429s', '429 '.repeat(MB / 4)],
  ['rate limit words', 'rate limit '.repeat(MB / 11)],
  ['no newlines letters', 'ab'.repeat(MB / 2)],
  ['boundary at the very end', 'ordinary log line\n'.repeat(MB / 18) + 'stop_reason: max_tokens'],
];
for (const [name, input] of huge) {
  test(`detectLlmBoundary: 1 MB of ${name} is fast`, () => {
    const t0 = performance.now();
    detectLlmBoundary(input);
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
  });
}

test('detectLlmBoundary: finds a marker at the end of 1 MB', () => {
  assert.equal(detectLlmBoundary('ordinary log line\n'.repeat(MB / 18) + 'stop_reason: max_tokens'), true);
});
