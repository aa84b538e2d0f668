/**
 * Output of `drain verify`: the default text (one line per criterion, problems indented,
 * a verdict line), the Markdown block for a report (after the reliability plan's
 * "Final Report — Acceptance Criteria"), and the JSON document. Pure.
 */
import type { CriterionResult, VerifyResult } from './verify.js';

/** Problems (and list items) shown per criterion in text and Markdown; --json has them all. */
export const SHOWN_ITEMS = 20;

/** `Verdict: PASS (6/6 criteria)`, `Verdict: FAIL (criterion 2 failed)`, `Verdict: FAIL (criteria 2, 4 failed)`. */
export function verdictLine(result: VerifyResult): string {
  const failed = result.criteria.filter((c) => c.status === 'FAIL').map((c) => c.id);
  if (failed.length === 0) {
    return `Verdict: PASS (${result.criteria.length}/${result.criteria.length} criteria)`;
  }
  return `Verdict: FAIL (${failed.length === 1 ? 'criterion' : 'criteria'} ${failed.join(', ')} failed)`;
}

/** The first SHOWN_ITEMS of `items`, then `… and N more` when some were left out. */
export function capped(items: string[], more = (n: number) => `… and ${n} more (see --json)`): string[] {
  return items.length <= SHOWN_ITEMS
    ? items
    : [...items.slice(0, SHOWN_ITEMS), more(items.length - SHOWN_ITEMS)];
}

function formatCriterionText(c: CriterionResult): string {
  const head = `[${c.status}] ${c.id}. ${c.title}: ${c.summary}`;
  return [head, ...capped(c.problems).map((p) => `    - ${p}`)].join('\n');
}

/** Default output: one line per criterion (problems indented below it), then the verdict. */
export function formatVerifyText(result: VerifyResult): string {
  return [
    `Session ${result.sessionId}`,
    ...result.criteria.map(formatCriterionText),
    verdictLine(result),
  ].join('\n');
}

/** Exactly {sessionId, verdict, criteria: [{id, title, status, evidence, problems}]}. */
function verifyJson(result: VerifyResult): {
  sessionId: string;
  verdict: 'PASS' | 'FAIL';
  criteria: Array<Omit<CriterionResult, 'summary'>>;
} {
  return {
    sessionId: result.sessionId,
    verdict: result.verdict,
    criteria: result.criteria.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      evidence: c.evidence,
      problems: c.problems,
    })),
  };
}

export const formatVerifyJson = (result: VerifyResult): string => JSON.stringify(verifyJson(result), null, 2);

/** One evidence value inline: n/a, none, `a, b`, `k=v, k=v`, or compact JSON. */
export function inlineValue(v: unknown): string {
  if (v === null || v === undefined) return 'n/a';
  if (Array.isArray(v)) {
    if (v.length === 0) return 'none';
    return v.every((x) => typeof x !== 'object' || x === null)
      ? v.map(inlineValue).join(', ')
      : JSON.stringify(v);
  }
  if (typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${typeof x === 'object' && x !== null ? JSON.stringify(x) : inlineValue(x)}`)
      .join(', ');
  }
  return String(v);
}

/** Evidence bullets: scalars inline; lists of objects (or long lists) one item per line. */
export function evidenceLines(evidence: Record<string, unknown>, indent: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(evidence)) {
    const listed = Array.isArray(v) && v.length > 0 && (v.some((x) => typeof x === 'object') || v.length > 5);
    if (!listed) {
      out.push(`${indent}- ${k}: ${inlineValue(v)}`);
      continue;
    }
    out.push(`${indent}- ${k}:`);
    const items = (v as unknown[]).map((x) =>
      typeof x === 'object' && x !== null ? inlineValue(x) : String(x),
    );
    out.push(...capped(items, (n) => `… and ${n} more`).map((x) => `${indent}  - ${x}`));
  }
  return out;
}

function formatCriterionMarkdown(c: CriterionResult): string[] {
  const lines = [`${c.id}. **${c.title}** — **${c.status}**`, `   - ${c.summary}`];
  lines.push(...evidenceLines(c.evidence, '   '));
  lines.push(...capped(c.problems, (n) => `… and ${n} more problems`).map((p) => `   - ❌ ${p}`));
  return lines;
}

/** The block to paste into a report. */
export function formatVerifyMarkdown(result: VerifyResult): string {
  const passing = result.criteria.filter((c) => c.status !== 'FAIL').length;
  return [
    '**Batch Drain Health Acceptance Criteria (must all pass)**',
    '',
    `Session \`${result.sessionId}\`: **${result.verdict}** (${passing}/${result.criteria.length} criteria pass; N/A counts as passing)`,
    '',
    ...result.criteria.flatMap((c) => [...formatCriterionMarkdown(c), '']),
    verdictLine(result),
  ].join('\n');
}
