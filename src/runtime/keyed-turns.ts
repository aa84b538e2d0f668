/**
 * Callers with the same key take turns (one at a time, in call order); other keys do not wait.
 * In-process only: what other processes do is arbitrated elsewhere (the database, a lease).
 */
export class KeyedTurns {
  private readonly turns = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier caller with `key` has settled; its result or error. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const turn = (this.turns.get(key) ?? Promise.resolve()).then(fn);
    const done = turn.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(key, done);
    void done.then(() => {
      if (this.turns.get(key) === done) this.turns.delete(key);
    });
    return turn;
  }

  /** Keys with a caller running or waiting (none left behind once all have settled). */
  get size(): number {
    return this.turns.size;
  }
}
