/**
 * The scenario a simulated phase acts out, read from `phases.scope` JSON under the key `sim`:
 *   {"sim": {"scenario": "complete", "events": 3, "seconds": 0.5}}
 * Pure: parsing and validation only (no I/O), so it is unit-testable.
 */

export const SCENARIO_NAMES = [
  'complete',
  'fail',
  'crash',
  'hang',
  'hang-with-children',
  'unicode',
  'stderr-exit0',
  'big-output',
  'endless-output',
  'non-utf8',
  'escalate',
  'llm-boundary',
] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface Scenario {
  name: ScenarioName;
  /** How long to work before finishing (telemetry rows are spread over this time). */
  seconds: number;
  /** Rows to write into token_estimation_v2_events. */
  events: number;
  /** Rows to write into token_budget_escalation_events. */
  escalations: number;
  /** last_failure_reason recorded on failure (null: none recorded). */
  reason: string | null;
  exitCode: number;
  /** Bytes of stdout for big-output. */
  bytes: number;
  /**
   * Output tokens each model call spends (an estimation row's actual_output_tokens, an
   * escalation row's tokens_used), added to phases.tokens_used and runs.tokens_used; null:
   * derived from the call's prediction (estimation) or budget (escalation).
   */
  tokens: number | null;
}

const SIM_KEYS = [
  'scenario',
  'seconds',
  'events',
  'escalations',
  'reason',
  'exitCode',
  'bytes',
  'tokens',
] as const;

const DEFAULT_SECONDS = 0.2;
export const DEFAULT_BIG_OUTPUT_BYTES = 5 * 1024 * 1024;
const TOKEN_ESCALATION_MARK = 'TOKEN_ESCALATION';

const MAX_SECONDS = 24 * 3600;
const MAX_EVENTS = 100_000;
const MAX_BYTES = 4 * 1024 * 1024 * 1024;
/** An INTEGER column holds the sums: one call stays far below it. */
const MAX_TOKENS = 1_000_000;

type Defaults = Omit<Scenario, 'name' | 'seconds' | 'bytes' | 'tokens'>;
const DEFAULTS: Record<ScenarioName, Defaults> = {
  complete: { events: 1, escalations: 0, reason: null, exitCode: 0 },
  fail: { events: 0, escalations: 0, reason: 'patch apply failed', exitCode: 1 },
  crash: { events: 0, escalations: 0, reason: null, exitCode: 3 },
  hang: { events: 0, escalations: 0, reason: null, exitCode: 0 },
  'hang-with-children': { events: 0, escalations: 0, reason: null, exitCode: 0 },
  unicode: { events: 1, escalations: 0, reason: null, exitCode: 0 },
  'stderr-exit0': { events: 0, escalations: 0, reason: null, exitCode: 0 },
  'big-output': { events: 1, escalations: 0, reason: null, exitCode: 0 },
  'endless-output': { events: 0, escalations: 0, reason: null, exitCode: 0 },
  'non-utf8': {
    events: 0,
    escalations: 0,
    reason: "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
    exitCode: 1,
  },
  escalate: {
    events: 0,
    escalations: 1,
    reason: `${TOKEN_ESCALATION_MARK}: output truncated at max_tokens`,
    exitCode: 1,
  },
  'llm-boundary': {
    events: 0,
    escalations: 0,
    reason: 'Builder output truncated at max_tokens=4096 (LLM boundary reached, no patch produced)',
    exitCode: 1,
  },
};

/** Scenarios whose outcome is a FAILED phase with a reason (so `reason` is meaningful). */
const REASONED: ReadonlySet<ScenarioName> = new Set(['fail', 'non-utf8', 'escalate', 'llm-boundary']);

type ParseResult = { ok: true; scenario: Scenario } | { ok: false; name: string; error: string };

function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(s);
}

export function defaultScenario(name: ScenarioName = 'complete'): Scenario {
  return { name, seconds: DEFAULT_SECONDS, bytes: DEFAULT_BIG_OUTPUT_BYTES, tokens: null, ...DEFAULTS[name] };
}

/** The failure reason an unknown or invalid scenario is recorded with. */
export function invalidReason(r: { name: string; error: string }): string {
  return `sim: ${r.error}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(
  o: Record<string, unknown>,
  key: string,
  dflt: number,
  { integer, min, max }: { integer: boolean; min: number; max: number },
): number | string {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v))
    return `'${key}' must be a number, got ${JSON.stringify(v)}`;
  if (integer && !Number.isInteger(v)) return `'${key}' must be an integer, got ${v}`;
  if (v < min || v > max) return `'${key}' must be between ${min} and ${max}, got ${v}`;
  return v;
}

/**
 * Parses the `sim` value: an object, a bare scenario name string, or absent (null/undefined)
 * which means the default scenario (complete with 1 event).
 */
export function parseSim(sim: unknown): ParseResult {
  if (sim === undefined || sim === null) return { ok: true, scenario: defaultScenario() };
  if (typeof sim === 'string') sim = { scenario: sim };
  if (!isPlainObject(sim)) {
    return {
      ok: false,
      name: 'invalid',
      error: `invalid scenario: 'sim' must be an object, got ${JSON.stringify(sim)}`,
    };
  }
  const rawName = sim.scenario ?? 'complete';
  if (typeof rawName !== 'string') {
    return {
      ok: false,
      name: 'invalid',
      error: `invalid scenario: 'scenario' must be a string, got ${JSON.stringify(rawName)}`,
    };
  }
  if (!isScenarioName(rawName)) {
    return {
      ok: false,
      name: rawName,
      error: `unknown scenario ${JSON.stringify(rawName)} (valid: ${SCENARIO_NAMES.join(', ')})`,
    };
  }
  const bad = (error: string): ParseResult => ({
    ok: false,
    name: rawName,
    error: `invalid scenario ${rawName}: ${error}`,
  });
  const unknownKey = Object.keys(sim).find((k) => !(SIM_KEYS as readonly string[]).includes(k));
  if (unknownKey !== undefined) return bad(`unknown key '${unknownKey}' (valid: ${SIM_KEYS.join(', ')})`);

  const base = defaultScenario(rawName);
  const seconds = num(sim, 'seconds', base.seconds, { integer: false, min: 0, max: MAX_SECONDS });
  const events = num(sim, 'events', base.events, { integer: true, min: 0, max: MAX_EVENTS });
  const escalations = num(sim, 'escalations', base.escalations, {
    integer: true,
    min: 0,
    max: MAX_EVENTS,
  });
  const exitCode = num(sim, 'exitCode', base.exitCode, { integer: true, min: 0, max: 255 });
  const bytes = num(sim, 'bytes', base.bytes, { integer: true, min: 0, max: MAX_BYTES });
  const tokens =
    sim.tokens === undefined || sim.tokens === null
      ? null
      : num(sim, 'tokens', 0, { integer: true, min: 0, max: MAX_TOKENS });
  for (const v of [seconds, events, escalations, exitCode, bytes, tokens])
    if (typeof v === 'string') return bad(v);

  let reason = base.reason;
  if (sim.reason !== undefined && sim.reason !== null) {
    if (typeof sim.reason !== 'string' || sim.reason.trim() === '') {
      return bad(`'reason' must be a non-empty string, got ${JSON.stringify(sim.reason)}`);
    }
    if (!REASONED.has(rawName)) return bad(`'reason' is only used by ${[...REASONED].join(', ')}`);
    reason = sim.reason;
  }
  if (rawName === 'escalate' && reason !== null && !reason.includes(TOKEN_ESCALATION_MARK)) {
    reason = `${TOKEN_ESCALATION_MARK}: ${reason}`;
  }
  if (rawName === 'llm-boundary' && (events as number) > 0) {
    return bad("'events' must be 0: llm-boundary writes no telemetry");
  }
  return {
    ok: true,
    scenario: {
      name: rawName,
      seconds: seconds as number,
      events: events as number,
      escalations: escalations as number,
      reason,
      exitCode: exitCode as number,
      bytes: bytes as number,
      tokens: tokens as number | null,
    },
  };
}

/**
 * Parses `phases.scope` (already-decoded JSON, a JSON text, or null) and returns its `sim`
 * scenario. Scope without a `sim` key (or null) means the default scenario.
 */
export function parseScope(scope: unknown): ParseResult {
  if (typeof scope === 'string') {
    try {
      scope = JSON.parse(scope);
    } catch {
      return {
        ok: false,
        name: 'invalid',
        error: 'invalid scenario: phases.scope is not valid JSON',
      };
    }
  }
  if (!isPlainObject(scope)) return parseSim(undefined);
  return parseSim(scope.sim);
}
