/**
 * Output of the reference executor: writes that respect backpressure and survive a reader
 * that went away (EPIPE), plus the canned texts some scenarios print.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';

const broken = new WeakSet<NodeJS.WritableStream>();

/** Call once at start: a closed stdout/stderr must not crash the executor with EPIPE. */
export function guardStdio(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', () => broken.add(s));
  }
}

/** Writes and waits for 'drain' when the stream's buffer is full. */
export function write(stream: NodeJS.WritableStream, data: string | Uint8Array): Promise<void> {
  if (broken.has(stream)) return Promise.resolve();
  return new Promise((resolve) => {
    if (stream.write(data)) return resolve();
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('error', done);
  });
}

export const out = (line: string) => write(process.stdout, line + '\n');
export const err = (line: string) => write(process.stderr, line + '\n');
const isBroken = (stream: NodeJS.WritableStream) => broken.has(stream);
export const sleep = (seconds: number) => sleepMs(Math.max(0, seconds * 1000));

export const UNICODE_LINES = [
  'Café crème, naïve façade, Ærøskøbing, Größe, señor, Ελληνικά, русский текст',
  '日本語のテキスト — 中文测试 — 한국어 텍스트',
  'emoji: 🚀 ✅ 🧪 🐍 👩‍💻 🇫🇷',
  'right-to-left: שלום עולם / مرحبا بالعالم',
  'combining: e\u0301 a\u0308 — zero-width joiner: 👨\u200d👩\u200d👧',
];

/** Bytes that are not valid UTF-8: lone continuation bytes, overlong and truncated sequences. */
export const INVALID_UTF8 = Uint8Array.from([
  0xff, 0xfe, 0x20, 0xc3, 0x28, 0x20, 0xa0, 0xa1, 0x20, 0xe2, 0x28, 0xa1, 0x20, 0xf0, 0x28, 0x8c, 0x28, 0x20,
  0xc0, 0xaf, 0x20, 0xed, 0xa0, 0x80, 0x20, 0xe6, 0x97,
]);

export function pythonTraceback(runId: string, phaseId: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "scripts/drain_one_phase.py", line 142, in <module>',
    '    sys.exit(main())',
    '  File "scripts/drain_one_phase.py", line 118, in main',
    `    result = executor.execute_phase(${JSON.stringify(runId)}, ${JSON.stringify(phaseId)})`,
    '  File "src/autopack/autonomous_executor.py", line 2210, in execute_phase',
    '    patch = self._run_builder(phase, context)',
    '  File "src/autopack/builder/runner.py", line 87, in _run_builder',
    '    raise RuntimeError("builder subprocess died unexpectedly")',
    'RuntimeError: builder subprocess died unexpectedly (sim crash)',
    '',
  ].join('\n');
}

/** `bytes` bytes of numbered lines (the last one cut to fit). */
export async function writeBigOutput(bytes: number): Promise<void> {
  const chunkTarget = 64 * 1024;
  let written = 0;
  let lineNo = 0;
  while (written < bytes) {
    const lines: string[] = [];
    let size = 0;
    while (size < chunkTarget && written + size < bytes) {
      lineNo++;
      const head = `[sim] big-output line ${String(lineNo).padStart(8, '0')} `;
      const line = head + 'x'.repeat(Math.max(0, 99 - head.length)) + '\n';
      lines.push(line);
      size += line.length;
    }
    let chunk = lines.join('');
    if (written + chunk.length > bytes) chunk = chunk.slice(0, bytes - written);
    await write(process.stdout, chunk);
    written += chunk.length;
    if (isBroken(process.stdout)) return;
  }
}

/** Output as fast as the reader takes it, forever (yields to the event loop so SIGTERM is handled). */
export async function writeForever(label: string): Promise<never> {
  const line = `[sim] endless-output ${label} ${'y'.repeat(60)}\n`;
  const chunk = line.repeat(Math.ceil((64 * 1024) / line.length));
  for (let n = 0; ; n++) {
    if (isBroken(process.stdout)) await sleep(1);
    else await write(process.stdout, chunk);
    if (n % 256 === 0) await write(process.stderr, `[sim] endless-output: ${n} chunks written\n`);
    await new Promise((r) => setImmediate(r));
  }
}
