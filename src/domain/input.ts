import { z } from 'zod';
import { redactSecrets } from './redact.js';
import { DRAIN_MODES, DRAIN_ORDERS, type DrainConfig } from './types.js';

/** Invalid workflow input: `field` names the offending field (dotted path). */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export const DEFAULTS: DrainConfig = {
  batchSize: 10,
  runId: null,
  phaseTimeoutSeconds: 900,
  maxTotalMinutes: null,
  maxTimeoutsPerRun: 2,
  maxAttemptsPerPhase: 2,
  maxFingerprintRepeats: 3,
  skipRunsWithQueued: true,
  skipRunPrefixes: [],
  maxConsecutiveZeroYield: null,
  dryRun: false,
  apiUrl: null,
  mode: 'failed',
  executor: null,
  workspace: null,
  baselineCommand: null,
  killGraceSeconds: 10,
  continueAsNewAfterEvents: 3000,
  heartbeatTimeoutSeconds: 20,
  maxDrainTries: 5,
  onKill: 'leave',
  apiProcessPattern: 'uvicorn',
  databaseId: null,
  maxAttemptsPerPhaseTotal: null,
  ignoreMemory: false,
  order: 'priority',
  stallSeconds: null,
  maxPhaseTimeoutSeconds: null,
  concurrency: 1,
  maxTokens: null,
  maxTokensPerPhase: null,
};

/** Most slots one session may run (each holds a worker's activity slot and an executor). */
export const MAX_CONCURRENCY = 64;

const posInt = (max: number) => z.number().int().min(1).max(max);
const nonEmpty = z.string().trim().min(1).max(4096);
const nullable = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

/** Workflow input is history: a field that carries a secret is refused, never stored. */
const SECRET_HINT =
  "contains a secret (a password, token or key); secrets stay in the worker's environment, never in workflow input";
const noSecret = (s: string) => redactSecrets(s) === s;
const commandText = nonEmpty.refine(noSecret, SECRET_HINT);

/**
 * What is wrong with an AUTOPACK_API_URL (null: nothing). The one rule for workflow input and
 * the worker's --api-url: a URL with credentials would put a secret into workflow history.
 */
export function apiUrlProblem(s: string): string | null {
  if (s.length > 2048) return 'must be at most 2048 characters';
  if (!/^https?:\/\/[^\s]+$/i.test(s)) return 'must be an http(s) URL';
  if (/^[a-z]+:\/\/[^/@\s]*@/i.test(s)) return 'must not contain credentials (user:password@)';
  if (!noSecret(s)) return SECRET_HINT;
  return null;
}

const apiUrl = z.string().superRefine((s, ctx) => {
  const problem = apiUrlProblem(s);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const schema = z
  .object({
    batchSize: posInt(100_000),
    runId: nullable(nonEmpty),
    phaseTimeoutSeconds: z
      .number()
      .positive()
      .max(7 * 24 * 3600),
    maxTotalMinutes: nullable(
      z
        .number()
        .positive()
        .max(366 * 24 * 60),
    ),
    maxTimeoutsPerRun: posInt(1_000_000),
    maxAttemptsPerPhase: posInt(1_000_000),
    maxFingerprintRepeats: posInt(1_000_000),
    skipRunsWithQueued: z.boolean(),
    skipRunPrefixes: z.array(nonEmpty).max(1000),
    maxConsecutiveZeroYield: nullable(posInt(1_000_000)),
    dryRun: z.boolean(),
    apiUrl: nullable(apiUrl),
    mode: z.enum(DRAIN_MODES),
    executor: nullable(commandText),
    workspace: nullable(nonEmpty),
    baselineCommand: nullable(commandText),
    killGraceSeconds: z.number().min(0).max(3600),
    continueAsNewAfterEvents: z.number().int().min(200).max(50_000),
    heartbeatTimeoutSeconds: z.number().min(3).max(600),
    maxDrainTries: posInt(100),
    onKill: z.enum(['leave', 'fail']),
    apiProcessPattern: z.string().trim().min(1).max(200),
    databaseId: nullable(z.string().uuid()),
    maxAttemptsPerPhaseTotal: nullable(posInt(1_000_000)),
    ignoreMemory: z.boolean(),
    order: z.enum(DRAIN_ORDERS),
    stallSeconds: nullable(
      z
        .number()
        .min(1)
        .max(7 * 24 * 3600),
    ),
    maxPhaseTimeoutSeconds: nullable(
      z
        .number()
        .positive()
        .max(7 * 24 * 3600),
    ),
    concurrency: posInt(MAX_CONCURRENCY),
    maxTokens: nullable(posInt(Number.MAX_SAFE_INTEGER)),
    maxTokensPerPhase: nullable(posInt(Number.MAX_SAFE_INTEGER)),
  })
  .partial()
  .strict();

/** A fresh copy of DEFAULTS: its array must not be shared with (and mutated through) a config. */
const defaultsCopy = (): DrainConfig => ({ ...DEFAULTS, skipRunPrefixes: [...DEFAULTS.skipRunPrefixes] });

/**
 * Validates workflow input (one JSON object, every field optional) and fills in defaults.
 * `undefined`/`null` mean "all defaults". Throws InputError naming the first bad field.
 */
export function parseDrainInput(raw: unknown): DrainConfig {
  if (raw === undefined || raw === null) return defaultsCopy();
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError(
      '(input)',
      `workflow input must be one JSON object such as {"batchSize": 10}, got ${Array.isArray(raw) ? 'an array' : typeof raw}`,
    );
  }
  const res = schema.safeParse(raw);
  if (!res.success) {
    const issue = res.error.issues[0];
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0];
      throw new InputError(
        key,
        `unknown input field "${key}"; known fields: ${Object.keys(DEFAULTS).join(', ')}`,
      );
    }
    const field = issue.path.join('.') || '(input)';
    throw new InputError(field, `invalid input field "${field}": ${issue.message}`);
  }
  const out: DrainConfig = defaultsCopy();
  for (const [k, v] of Object.entries(res.data)) {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (out.maxPhaseTimeoutSeconds != null && out.maxPhaseTimeoutSeconds < out.phaseTimeoutSeconds) {
    throw new InputError(
      'maxPhaseTimeoutSeconds',
      `invalid input field "maxPhaseTimeoutSeconds": ${out.maxPhaseTimeoutSeconds} is below phaseTimeoutSeconds (${out.phaseTimeoutSeconds}); it is how far a phase that keeps producing output may run past its timeout`,
    );
  }
  return out;
}
