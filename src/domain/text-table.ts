/** Plain-text tables for CLI output: columns padded to their widest cell, the last one not padded. */
export function formatColumns(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  return [head, ...body]
    .map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
    .join('\n');
}
