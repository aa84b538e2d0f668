/**
 * Failure categories of a phase's `last_failure_reason`, used for selection
 * priority (FAILURE_CATEGORIES order: unknown first, timeout last).
 *
 * CATEGORY_RULES is the single source of truth for both sides: JS applies each
 * pattern with `new RegExp(pattern, 'i')`, SQL with `reason ~* pattern`. The
 * patterns therefore use only the regex subset JS and Postgres ARE read alike:
 * literal lower-case letters, spaces, `_`, `-`, `[...]` classes, `?`, `*`, `+`,
 * `|` and `( )`. No backslash at all (so no `\b`, which is backspace in ARE, no
 * `\d`/`\s`), no lookaround, no named or non-capturing groups, no anchors.
 *
 * Blank reasons are `unknown` before any rule is tried; in SQL that is
 * `reason IS NULL OR btrim(reason) = ''` (btrim strips spaces only; JS `trim()`
 * also strips tabs/newlines; reasons made only of such characters are negligible).
 */
import { FAILURE_CATEGORIES, type FailureCategory } from './types.js';

interface CategoryRule {
  category: FailureCategory;
  pattern: string;
}

/** Rules in check order; the first match wins, no match is `other`. */
export const CATEGORY_RULES: ReadonlyArray<CategoryRule> = Object.freeze([
  // timeout, timeouterror, timed out, timed-out, time out, time-out
  { category: 'timeout', pattern: 'timeout|timed[ _-]?out|time[ _-]out' },
  // "CI collection/import error", ImportError, ModuleNotFoundError, "cannot import"
  { category: 'collection', pattern: 'collection|import|modulenotfound' },
  // "missing deliverables", "deliverable not created"
  { category: 'deliverable', pattern: 'deliverable|missing' },
  // patch failures, no-op / noop / no_op guards, manifest problems
  { category: 'patch', pattern: 'patch|no[-_]?op|manifest' },
]);

const COMPILED: ReadonlyArray<readonly [FailureCategory, RegExp]> = CATEGORY_RULES.map(
  (r) => [r.category, new RegExp(r.pattern, 'i')] as const,
);

/** Category of a failure reason: blank → unknown, then CATEGORY_RULES in order, else other. */
export function categorizeFailure(reason: string | null | undefined): FailureCategory {
  if (typeof reason !== 'string' || reason.trim() === '') return 'unknown';
  for (const [category, re] of COMPILED) {
    if (re.test(reason)) return category;
  }
  return 'other';
}

/** Selection priority of a category: its index in FAILURE_CATEGORIES (0 = drained first). */
export function categoryRank(c: FailureCategory): number {
  return FAILURE_CATEGORIES.indexOf(c);
}
