/**
 * Test-only `--import` hook: appends the URL of every module the process loads to the file named
 * by DRAIN_MODULE_LOG, one per line. ES modules through a resolve hook (node:module `register`;
 * the hook runs in the loader thread), CommonJS `require`s through Module._resolveFilename (in
 * Node 20 a require inside a CommonJS package does not pass the ESM hooks). Usage:
 *   DRAIN_MODULE_LOG=/tmp/x node --import ./test/helpers/module-log.mjs bin/drain.js list --help
 */
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

let logFile = null;

/** Loader thread: receives the log file from register(). */
export function initialize(data) {
  logFile = data.file;
}

/** Loader thread: records every successful ESM resolution. */
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (logFile) appendFileSync(logFile, `${result.url}\n`);
  return result;
}

const file = process.env.DRAIN_MODULE_LOG;
if (isMainThread && file) {
  register(import.meta.url, { data: { file } });
  const original = Module._resolveFilename;
  Module._resolveFilename = function (...args) {
    const resolved = original.apply(this, args);
    appendFileSync(file, `${resolved.startsWith('/') ? pathToFileURL(resolved).href : resolved}\n`);
    return resolved;
  };
}
