/**
 * Named parameters for statements built from shared fragments: `:name` in the text becomes
 * `$n` (numbered by first use), and only the names a statement uses are sent, so each
 * statement takes exactly its own parameters. `::type` casts are left alone.
 */
interface BoundSql {
  text: string;
  values: unknown[];
}

const NAME = /(?<![:\w]):([A-Za-z_]\w*)/g;

/** Binds `:name` placeholders of `text` to `params`; a name without a value is an error. */
export function bindNamed(text: string, params: Record<string, unknown>): BoundSql {
  const order: string[] = [];
  const out = text.replace(NAME, (_, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(params, name) || params[name] === undefined) {
      throw new Error(`SQL parameter :${name} has no value`);
    }
    let i = order.indexOf(name);
    if (i < 0) i = order.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text: out, values: order.map((n) => params[n]) };
}
