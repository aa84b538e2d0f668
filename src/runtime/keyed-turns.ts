import { AsyncResource } from 'node:async_hooks';

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

/**
 * Background work per key where only the newest request matters (a file rewritten whole from
 * the latest state): one run at a time per key; a request while one runs waits, and a newer
 * request replaces the one waiting. The caller does not wait: `request` returns at once, and a
 * run's error goes to `onError` (never an unhandled rejection). `idle` waits for a key (or
 * every key) to have nothing running or waiting. Each run sees the async context of its own
 * request (an activity's Context, say), not that of the run before it.
 */
export class KeyedLatest {
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, () => Promise<unknown>>();

  constructor(private readonly onError: (err: unknown, key: string) => void) {}

  request(key: string, fn: () => Promise<unknown>): void {
    const bound = AsyncResource.bind(fn);
    if (this.running.has(key)) this.waiting.set(key, bound);
    else this.start(key, bound);
  }

  private start(key: string, fn: () => Promise<unknown>): void {
    const run = Promise.resolve()
      .then(fn)
      .then(
        () => undefined,
        (err: unknown) => this.onError(err, key),
      )
      .finally(() => {
        const next = this.waiting.get(key);
        this.waiting.delete(key);
        if (next) this.start(key, next);
        else this.running.delete(key);
      });
    this.running.set(key, run);
  }

  /**
   * Resolves once `key` (no key: every key) has nothing running or waiting: true; or false once
   * `withinMs` has passed first (what runs then goes on).
   */
  async idle(key?: string, withinMs = Infinity): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      if (Number.isFinite(withinMs)) timer = setTimeout(() => resolve(false), withinMs);
    });
    try {
      return await Promise.race([this.settled(key), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async settled(key?: string): Promise<boolean> {
    for (;;) {
      const runs = key === undefined ? [...this.running.values()] : [this.running.get(key)];
      const pending = runs.filter((r): r is Promise<void> => r !== undefined);
      if (pending.length === 0) return true;
      await Promise.all(pending);
    }
  }

  /** Keys with a run in flight. */
  get size(): number {
    return this.running.size;
  }
}
