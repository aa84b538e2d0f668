/**
 * LLM-boundary detection.
 *
 * "Hit the LLM boundary" means the executor got as far as the LLM stage of a phase:
 * it made (or tried to make) a Builder/Auditor LLM call, or was stopped by an
 * LLM-side limit — token budget / max_tokens / TOKEN_ESCALATION, a truncated
 * completion, an exceeded context window, a provider API error or a 429 rate
 * limit. A zero-telemetry attempt that hit the boundary is `llm_boundary_hit`
 * (worth retrying with more budget); one that did not failed before any LLM work.
 *
 * The patterns need LLM-specific words (a lone "Builder" in an import error or
 * "timeout" in a test does not count). None has the `g` flag (so `test()` is
 * stateless) and every gap between words is bounded, so 1 MB is scanned linearly.
 */

export const LLM_BOUNDARY_PATTERNS: RegExp[] = [
  // Token limits and escalation.
  /\bmax[_ ]tokens\b/i,
  /\btoken[_ -]budget\b/i,
  /TOKEN_ESCALATION/i,
  /\bcontext[_ ]length[_ ]exceeded\b|\bmaximum context length\b|\bcontext window (?:exceeded|limit)|\bprompt is too long\b/i,
  // Truncated model output.
  /\btruncat(?:ed|ion)\b[^\n]{0,40}?\b(?:output|response|completion|llm)\b/i,
  /\b(?:output|response|completion)\b[^\n]{0,40}?\btruncat(?:ed|ion)\b/i,
  /\bstop_reason\b[^\n]{0,20}?\bmax_tokens\b/i,
  // LLM call / request lines.
  /\b(?:calling|invoking|sending to) (?:the )?llm\b/i,
  /\bllm (?:call|request|response)s?\b/i,
  // `[Builder] request …`, `Auditor calling model …`; not `autopack.builder` module paths.
  /(?<![./\\])\b(?:builder|auditor)\b(?![./\\])[^\n]{0,80}?\b(?:request|call|calling|prompt|completion|tokens)\b/i,
  // Provider API errors.
  /\b(?:anthropic|openai)\b[^\n]{0,80}?\b(?:api ?error|apistatuserror|error code|status(?: code)?:? ?[45][0-9][0-9]|overloaded|exception)/i,
  /\b(?:RateLimitError|APIStatusError|APIConnectionError|APITimeoutError|overloaded_error|rate_limit_error)\b/,
  // 429 / rate limiting.
  /\b429\b[^\n]{0,60}?\b(?:too many requests|rate[ _-]?limit)/i,
  /\brate[ _-]?limit(?:ed|s)?\b[^\n]{0,60}?\b429\b/i,
];

/** True when executor output shows it reached or was stopped at the LLM boundary. */
export function detectLlmBoundary(output: string): boolean {
  if (typeof output !== 'string' || output === '') return false;
  return LLM_BOUNDARY_PATTERNS.some((re) => re.test(output));
}
