import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

const HEAD_BYTES = 4096;
const TAIL_BYTES = 8192;

/**
 * Streams one output of the executor to a log file, raw bytes as they come (non-UTF-8 is
 * kept as is), with backpressure, a size cap (the rest is counted, not written, and the
 * file says so), and head/tail excerpts for the database and the session JSON.
 */
export class LogSink {
  private readonly file: WriteStream;
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  private written = 0;
  bytes = 0;
  lastOutputAt: number | null = null;
  private truncatedNoted = false;
  private scanCarry = '';

  constructor(
    readonly path: string,
    header: string,
    private readonly maxBytes: number,
    private readonly onText?: (text: string) => void,
  ) {
    this.file = createWriteStream(path, { flags: 'w' });
    this.file.on('error', () => {
      /* a broken log disk must not crash the worker; excerpts still reach the DB */
    });
    this.file.write(header);
  }

  /** Pipes a stream into the sink, pausing it while the file catches up. */
  attach(src: Readable | null | undefined): Promise<void> {
    if (!src) return Promise.resolve();
    return new Promise((resolve) => {
      src.on('data', (chunk: Buffer) => {
        if (!this.push(chunk)) {
          src.pause();
          this.file.once('drain', () => src.resume());
        }
      });
      src.once('end', resolve);
      src.once('close', resolve);
      src.once('error', resolve);
    });
  }

  /** Returns false when the caller should wait for 'drain'. */
  push(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    this.lastOutputAt = Date.now();
    if (this.head.length < HEAD_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    }
    this.tail = Buffer.concat([this.tail, chunk]);
    if (this.tail.length > TAIL_BYTES) this.tail = this.tail.subarray(this.tail.length - TAIL_BYTES);
    if (this.onText) {
      const text = this.scanCarry + chunk.toString('utf8');
      this.onText(text);
      this.scanCarry = text.slice(-256);
    }
    if (this.written + chunk.length <= this.maxBytes) {
      this.written += chunk.length;
      return this.file.write(chunk);
    }
    if (!this.truncatedNoted) {
      this.truncatedNoted = true;
      const room = this.maxBytes - this.written;
      if (room > 0) this.file.write(chunk.subarray(0, room));
      this.written = this.maxBytes;
      this.file.write(
        `\n[autopack-drain: log capped at ${this.maxBytes} bytes; further output is counted but not written]\n`,
      );
    }
    return true;
  }

  /** Head and tail of the output as text (invalid UTF-8 replaced, NUL removed: Postgres text cannot hold it). */
  excerpt(): string {
    const clean = (b: Buffer) => b.toString('utf8').replace(/\u0000/g, '');
    if (this.bytes <= TAIL_BYTES) return clean(this.tail);
    const omitted = this.bytes - HEAD_BYTES - TAIL_BYTES;
    if (omitted <= 0) return clean(Buffer.concat([this.head, this.tail.subarray(-omitted)]));
    return `${clean(this.head)}\n[... ${omitted} bytes omitted ...]\n${clean(this.tail)}`;
  }

  close(trailer?: string): Promise<void> {
    if (this.truncatedNoted) trailer = `${trailer ?? ''}[autopack-drain: ${this.bytes} bytes of output in total]\n`;
    return new Promise((resolve) => {
      if (trailer) this.file.write(trailer);
      this.file.end(() => resolve());
      this.file.once('error', () => resolve());
    });
  }
}
