import { open, stat } from 'node:fs/promises';
import { headerLength } from '../domain/attempt-log.js';

const HEAD_BYTES = 4096;
const TAIL_BYTES = 8192;
/** At most this much new output is scanned per poll; a faster writer is sampled at its end. */
const SCAN_WINDOW = 1 << 20;

/**
 * Follows a log file the executor writes directly (so its output survives the worker):
 * byte count, last output time, text scanning of new output, head/tail excerpts.
 */
export class LogTail {
  bytes = 0;
  lastOutputAt: number | null = null;
  private scanned: number;

  constructor(
    readonly path: string,
    /** Bytes of our own header at the start of the file (not executor output). */
    private readonly headerBytes: number,
    private readonly onText?: (text: string) => void,
  ) {
    this.scanned = headerBytes;
  }

  /** Refreshes size and mtime, and scans what is new. Never throws. */
  async poll(): Promise<void> {
    try {
      const st = await stat(this.path);
      const size = Math.max(0, st.size - this.headerBytes);
      if (size !== this.bytes) {
        this.bytes = size;
        this.lastOutputAt = st.mtimeMs;
      }
      if (this.onText && st.size > this.scanned) {
        const from = Math.max(this.scanned, st.size - SCAN_WINDOW);
        this.onText(await readRange(this.path, Math.max(this.headerBytes, from - 256), st.size));
        this.scanned = st.size;
      }
    } catch {
      /* not there yet, or gone */
    }
  }

  /** Head and tail of the executor's output (invalid UTF-8 replaced, NUL removed). */
  async excerpt(): Promise<string> {
    const total = this.headerBytes + this.bytes;
    const clean = (b: Buffer) => b.toString('utf8').replace(/\u0000/g, '');
    if (this.bytes <= HEAD_BYTES + TAIL_BYTES) {
      return clean(Buffer.from(await readRange(this.path, this.headerBytes, total), 'utf8'));
    }
    const head = await readRangeRaw(this.path, this.headerBytes, this.headerBytes + HEAD_BYTES);
    const tail = await readRangeRaw(this.path, total - TAIL_BYTES, total);
    return `${clean(head)}\n[... ${this.bytes - HEAD_BYTES - TAIL_BYTES} bytes omitted ...]\n${clean(tail)}`;
  }
}

async function readRangeRaw(file: string, from: number, to: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function readRange(file: string, from: number, to: number): Promise<string> {
  return (await readRangeRaw(file, from, to)).toString('utf8');
}

/**
 * The text of `file` from byte `from` (default 0) to its end, at most the last `maxBytes` of
 * it (invalid UTF-8 replaced); null when the file cannot be read. The one tail reader for
 * logs other than an attempt's (those: fileTail, LogTail).
 */
export async function readTail(file: string, o: { from?: number; maxBytes: number }): Promise<string | null> {
  try {
    const { size } = await stat(file);
    const start = Math.max(o.from ?? 0, size - o.maxBytes);
    return (await readRangeRaw(file, start, size)).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * The last `bytes` of a log file (invalid UTF-8 replaced, NUL removed) and the number of bytes
 * the executor wrote (the file's size less our header). Missing file: empty, 0. Never throws.
 */
export async function fileTail(file: string, bytes = TAIL_BYTES): Promise<{ text: string; bytes: number }> {
  try {
    const { size } = await stat(file);
    const head = (await readRangeRaw(file, 0, Math.min(size, HEAD_BYTES))).toString('latin1');
    const headerBytes = headerLength(head);
    const from = Math.max(headerBytes, size - bytes);
    const text = (await readRangeRaw(file, from, size)).toString('utf8').replace(/\u0000/g, '');
    return { text, bytes: size - headerBytes };
  } catch {
    return { text: '', bytes: 0 };
  }
}
