/**
 * How often a running session's JSON is rewritten. The file keeps the original's format (one
 * JSON document, results[] inline, replaced atomically), so every write costs the whole file:
 * written after every phase, a session of N phases writes O(N²) bytes. Instead a running
 * session's file is rewritten once the results finished since its last write reach 1/16 of
 * the results it holds (every phase while it holds fewer than 32), and in full when the
 * session ends. Writes then total about 17 times the final file, O(1) bytes per phase, and a
 * running file lags by at most 1/16 of its results. Pure.
 */

/** The file is rewritten once the new results reach this fraction (1/n) of the results held. */
export const SESSION_JSON_WRITE_FRACTION = 16;

/** Is the running session JSON due for a rewrite, `sinceLastWrite` phases after the last one? */
export function sessionJsonDue(sinceLastWrite: number, results: number): boolean {
  return sinceLastWrite >= Math.max(1, Math.floor(results / SESSION_JSON_WRITE_FRACTION));
}
