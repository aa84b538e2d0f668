/**
 * Autopack's times: naive `timestamp without time zone` / SQLite DATETIME text written in UTC,
 * the way SQLAlchemy writes them (`2026-12-07 12:00:50.453195`). Autopack's ORM reads a text
 * with `T…Z` as an aware datetime, so we write exactly this form. The one owner of the format.
 */

/** A Date as Autopack's naive UTC text, microseconds included. */
export function naiveUtcText(d: Date): string {
  return `${d.toISOString().slice(0, 23).replace('T', ' ')}000`;
}

/** Autopack's naive UTC text (or any ISO-like text without a zone) as a Date; null stays null. */
export function fromNaiveUtc(text: string | null | undefined): Date | null {
  if (text === null || text === undefined || text === '') return null;
  const s = String(text).trim().replace(' ', 'T');
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`;
  // JavaScript keeps milliseconds: cut microseconds, which Date.parse does not accept everywhere.
  const d = new Date(zoned.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(d.getTime()) ? null : d;
}
