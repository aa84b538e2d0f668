/** Step 1 of src/domain/normalize.ts: the text without terminal noise, in NFKC, with ASCII digits. */

const ANSI = new RegExp(
  [
    String.raw`(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]`, // CSI (SGR colours, cursor moves, erase)
    String.raw`(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?`, // OSC (titles, links)
    String.raw`(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?`, // DCS, SOS, PM, APC
    String.raw`\x1b[ -/]*[0-~]`, // other escapes (`ESC(B`, `ESC=`, `ESC7`)
    String.raw`(?:\\u001b|\\x1b|\\033|\\e|\^\[)\[[0-9;]*m`, // SGR written out
  ].join('|'),
  'gi',
);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Control characters (tab and LF kept), BOM, zero-width space, soft hyphen; and our sentinels. */
const JUNK = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]/g;
const SENTINELS_IN_INPUT = /[\ue000-\ue009]+/g;
const NON_ASCII_DIGITS = /[^\P{Nd}0-9]+/gu;
const IS_DIGIT = /^\p{Nd}$/u;

/**
 * The value of a Unicode decimal digit. Unicode encodes every set of decimal digits as
 * 10 consecutive code points 0…9, so the value is the count of digits just before it, mod 10.
 */
function digitValue(cp: number): number {
  let n = 0;
  while (n < 100 && cp - n - 1 >= 0 && IS_DIGIT.test(String.fromCodePoint(cp - n - 1))) n++;
  return n % 10;
}

/** Every Unicode decimal digit as its ASCII digit. */
function asciiDigits(s: string): string {
  const memo = new Map<number, string>();
  return s.replace(NON_ASCII_DIGITS, (run) => {
    const out: string[] = [];
    for (const d of run) {
      const cp = d.codePointAt(0) ?? 0;
      let v = memo.get(cp);
      if (v === undefined) {
        v = String(digitValue(cp));
        memo.set(cp, v);
      }
      out.push(v);
    }
    return out.join('');
  });
}

/** `s` with every lone surrogate as U+FFFD (`String.prototype.toWellFormed` where there is one). */
function wellFormed(s: string): string {
  const native = (s as { toWellFormed?: () => string }).toWellFormed;
  return typeof native === 'function' ? native.call(s) : s.replace(LONE_SURROGATE, '\ufffd');
}

/** Step 1: the text without terminal noise, in NFKC, with ASCII digits. */
export function cleanText(text: string): string {
  return asciiDigits(
    wellFormed(text)
      .replace(ANSI, '')
      .replace(/\r\n?/g, '\n')
      .replace(SENTINELS_IN_INPUT, (m) => '\ufffd'.repeat(m.length))
      .replace(JUNK, '')
      .normalize('NFKC'),
  );
}
