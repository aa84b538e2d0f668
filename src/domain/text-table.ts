/** Plain-text tables for CLI output: columns padded to their widest cell, two spaces apart. */

interface TableStyle {
  /** Put before every line (default none). */
  indent?: string;
  /** A line of dashes (one run per column) under the header. */
  rule?: boolean;
  /** Each line without trailing blanks (an empty last cell leaves no padding before it). */
  trimEnd?: boolean;
  /** The width of a cell (default: its UTF-16 length). */
  width?: (s: string) => number;
}

/** Width in code points (good enough for a plain-text table of ids). */
export const codePointWidth = (s: string): number => Array.from(s).length;

/** The table, header first; the last column is not padded. */
export function formatTable(head: string[], body: string[][], style: TableStyle = {}): string {
  const { indent = '', rule = false, trimEnd = false, width = (s: string) => s.length } = style;
  const widths = head.map((h, i) => Math.max(width(h), ...body.map((b) => width(b[i] ?? ''))));
  const pad = (c: string, i: number) => c + ' '.repeat(Math.max(0, widths[i] - width(c)));
  const line = (cols: string[]) => {
    const text = indent + cols.map((c, i) => (i === cols.length - 1 ? c : pad(c, i))).join('  ');
    return trimEnd ? text.trimEnd() : text;
  };
  const ruleLines = rule ? [indent + widths.map((w) => '-'.repeat(w)).join('  ')] : [];
  return [line(head), ...ruleLines, ...body.map(line)].join('\n');
}

/** formatTable without a style: no indent, no rule. */
export function formatColumns(head: string[], body: string[][]): string {
  return formatTable(head, body);
}
