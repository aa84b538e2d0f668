import { appendEvents, emptyLog, slotTag, type ProgressLog } from './progress-log.js';
import type {
  AttemptOutcome,
  AttemptVerdict,
  DrainConfig,
  PhaseRef,
  PlannedPhase,
  RunStats,
  SkipRecord,
  ZeroYieldReason,
} from './types.js';
import { packSkips, unpackSkips, type PackedSkips } from './skip-reasons.js';

/**
 * Internal key of a phase: unambiguous even when ids contain ':' (the display key is
 * `run_id:phase_id`).
 */
export const pairKey = (runId: string, phaseId: string): string => JSON.stringify([runId, phaseId]);
export function parsePairKey(key: string): [string, string] {
  const v = JSON.parse(key) as unknown;
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
    throw new Error(`not a phase pair key: ${key}`);
  }
  return [v[0], v[1]];
}

/** A compact digest of one result, kept for the progress query. */
export interface ResultDigest {
  runId: string;
  phaseId: string;
  attempt: number;
  success: boolean;
  finalState: string | null;
  timedOut: boolean;
  /** Stopped by --stall-seconds (timedOut too); only present when true. */
  stalled?: boolean;
  /** Stopped by --max-tokens-per-phase; only present when true. */
  tokenCapped?: boolean;
  cancelled: boolean;
  events: number;
  durationSeconds: number;
  errorMessage: string | null;
  /** Tokens the phase spent (null: the backlog has no tokens_used); absent in older digests. */
  tokens?: number | null;
  /** Not judged: lost (lease gone, phase changed) or abandoned (out of tries). */
  unjudged?: 'lost' | 'abandoned';
}

/**
 * The durable state of a drain session. Lives in the workflow, is carried across
 * continue-as-new, and is what the queries, the session JSON and the summary read.
 * Plain JSON (no Set/Map) so it survives every serialisation.
 */
export interface SessionState {
  v: 1;
  sessionId: string;
  startedAt: string;
  startedAtMs: number;
  deadlineMs: number | null;
  /** Number of continue-as-new hand-overs so far. */
  generation: number;
  processed: number;
  succeeded: number;
  failed: number;
  timeouts: number;
  /** Of the timeouts, those stopped by --stall-seconds (absent until the first; older states lack it). */
  stalled?: number;
  /** Attempts stopped by --max-tokens-per-phase (absent until the first). */
  tokenCapped?: number;
  cancelled: number;
  interrupted: number;
  /** Attempts not judged: the run's lease was gone or the phase changed (lost), or out of tries (abandoned). */
  lost: number;
  abandoned: number;
  telemetryEvents: number;
  telemetryGlobalDelta: number;
  /**
   * Tokens the session's attempts spent (phases.tokens_used), over the attempts whose spend is
   * known (`tokensKnown`); `tokensUnknown` attempts had none to read. Absent in older states.
   */
  tokensSpent?: number;
  tokensKnown?: number;
  tokensUnknown?: number;
  drainSeconds: number;
  llmBoundaryHits: number;
  zeroYield: Partial<Record<ZeroYieldReason, number>>;
  consecutiveZeroYield: number;
  /** pairKey → attempts this session. */
  attempts: Record<string, number>;
  /** pairKeys never to select again this session (succeeded, or planned in a dry run). */
  done: string[];
  runs: Record<string, RunStats>;
  fingerprintCounts: Record<string, number>;
  stoppedFingerprints: string[];
  /** runId → why it was removed from selection. */
  stoppedRuns: Record<string, string>;
  sampledRuns: string[];
  promisingRuns: string[];
  deprioritizedRuns: string[];
  /** Phases passed over, most recent reason per phase (bounded). */
  skipped: SkipRecord[];
  /**
   * `skipped` in a payload (continue-as-new input, session report): packed, `skipped` then
   * empty (src/domain/skip-reasons.ts). Never set on the state a workflow works with.
   */
  packedSkips?: PackedSkips;
  planned: PlannedPhase[];
  recent: ResultDigest[];
  stopReason: string | null;
  /** The progress lines, as events (bounded). */
  log: ProgressLog;
}

export const MAX_SKIPPED_KEPT = 100;
export const MAX_RECENT_KEPT = 20;

export function newSessionState(sessionId: string, nowMs: number, config: DrainConfig): SessionState {
  return {
    v: 1,
    sessionId,
    startedAt: new Date(nowMs).toISOString(),
    startedAtMs: nowMs,
    deadlineMs: config.maxTotalMinutes == null ? null : nowMs + config.maxTotalMinutes * 60_000,
    generation: 0,
    processed: 0,
    succeeded: 0,
    failed: 0,
    timeouts: 0,
    cancelled: 0,
    interrupted: 0,
    lost: 0,
    abandoned: 0,
    telemetryEvents: 0,
    telemetryGlobalDelta: 0,
    drainSeconds: 0,
    llmBoundaryHits: 0,
    zeroYield: {},
    consecutiveZeroYield: 0,
    attempts: {},
    done: [],
    runs: {},
    fingerprintCounts: {},
    stoppedFingerprints: [],
    stoppedRuns: {},
    sampledRuns: [],
    promisingRuns: [],
    deprioritizedRuns: [],
    skipped: [],
    planned: [],
    recent: [],
    stopReason: null,
    log: emptyLog(),
  };
}

/**
 * A real session's attempted and done phases live in its drain_attempts rows (selection reads
 * them there), so the workflow state does not carry them: no payload grows with the session.
 * Dry runs write no rows and keep theirs in the state.
 */
export function withoutRecorded(state: SessionState): SessionState {
  return { ...state, attempts: {}, done: [] };
}

/** Own-property lookup: run ids such as "constructor" must not hit Object.prototype. */
export const own = <T>(rec: Record<string, T>, key: string): T | undefined =>
  Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;

const addUnique = (list: string[], item: string): string[] => (list.includes(item) ? list : [...list, item]);

/** The state as a payload carries it: its skips (and its log's skip reasons) packed. */
export function packedState<T extends Pick<SessionState, 'skipped'> & { log?: ProgressLog }>(state: T): T {
  const { packed, events } = packSkips(state.skipped, state.log?.events);
  const log = state.log ? { log: { ...state.log, events } } : {};
  return { ...state, ...log, skipped: [], packedSkips: packed };
}

/** The state a payload carried, unpacked (a payload of an earlier release has no packedSkips). */
export function unpackedState<
  T extends Pick<SessionState, 'skipped' | 'packedSkips'> & { log?: ProgressLog },
>(state: T): T {
  if (!state.packedSkips) return state;
  const { packedSkips, ...rest } = state;
  const { skipped, events } = unpackSkips(packedSkips, state.log?.events);
  return { ...rest, ...(state.log ? { log: { ...state.log, events } } : {}), skipped } as T;
}

/** Records phases passed over by selection; keeps the latest reason per phase, bounded. */
export function noteSkips(state: SessionState, skips: SkipRecord[]): SessionState {
  if (skips.length === 0) return state;
  const same = (a: SkipRecord, b: SkipRecord) => a.runId === b.runId && a.phaseId === b.phaseId;
  const keep = state.skipped.filter((s) => !skips.some((n) => same(n, s)));
  // A phase listed twice in `skips` keeps only its later entry.
  const latest = skips.filter((n, i) => !skips.some((m, j) => j > i && same(m, n)));
  const skipped = [...keep, ...latest].slice(-MAX_SKIPPED_KEPT);
  return { ...state, skipped };
}

/** Dry run: a planned phase counts as a success, so triage shapes the plan as in a real session. */
export function recordPlanned(state: SessionState, pick: PhaseRef): SessionState {
  const key = pairKey(pick.runId, pick.phaseId);
  const run = own(state.runs, pick.runId) ?? { attempted: 0, succeeded: 0, timeouts: 0, events: 0 };
  return {
    ...state,
    processed: state.processed + 1,
    succeeded: state.succeeded + 1,
    attempts: { ...state.attempts, [key]: (own(state.attempts, key) ?? 0) + 1 },
    done: addUnique(state.done, key),
    runs: {
      ...state.runs,
      [pick.runId]: { ...run, attempted: run.attempted + 1, succeeded: run.succeeded + 1 },
    },
    sampledRuns: addUnique(state.sampledRuns, pick.runId),
    promisingRuns: state.deprioritizedRuns.includes(pick.runId)
      ? state.promisingRuns
      : addUnique(state.promisingRuns, pick.runId),
    planned: [
      ...state.planned,
      { runId: pick.runId, phaseId: pick.phaseId, phaseIndex: pick.phaseIndex, category: pick.category },
    ],
  };
}

/**
 * Folds one attempt into the session: totals, per-run stats, fingerprints, triage and the
 * stop conditions that remove runs or fingerprints. Pure.
 */
export function recordAttempt(
  state: SessionState,
  o: AttemptOutcome,
  v: AttemptVerdict,
  config: DrainConfig,
  /** The slot of a session with several (its result line says so); absent with one slot. */
  slot?: number,
): SessionState {
  if (o.lost || o.abandoned) return recordUnjudged(state, o, slot);
  const key = pairKey(o.runId, o.phaseId);
  const s: SessionState = { ...state };
  s.processed += 1;
  if (o.success) s.succeeded += 1;
  else s.failed += 1;
  if (o.timedOut) s.timeouts += 1;
  // A stall is a timeout (it counts for maxTimeoutsPerRun) and is counted on its own as well.
  if (o.stalled) s.stalled = (s.stalled ?? 0) + 1;
  if (o.tokenCapped) s.tokenCapped = (s.tokenCapped ?? 0) + 1;
  if (o.cancelled) s.cancelled += 1;
  s.interrupted += o.interruptedTries;
  s.telemetryEvents += o.telemetryEvents;
  s.telemetryGlobalDelta += o.telemetryGlobalDelta;
  Object.assign(s, withTokens(s, o));
  s.drainSeconds = Math.round((s.drainSeconds + o.durationSeconds) * 1000) / 1000;
  if (o.llmBoundaryHit) s.llmBoundaryHits += 1;
  s.attempts = { ...s.attempts, [key]: Math.max(own(s.attempts, key) ?? 0, o.attempt) };
  if (o.success) s.done = addUnique(s.done, key);

  const prevRun = own(s.runs, o.runId) ?? { attempted: 0, succeeded: 0, timeouts: 0, events: 0 };
  const run: RunStats = {
    attempted: prevRun.attempted + 1,
    succeeded: prevRun.succeeded + (o.success ? 1 : 0),
    timeouts: prevRun.timeouts + (o.timedOut ? 1 : 0),
    events: prevRun.events + o.telemetryEvents,
  };
  s.runs = { ...s.runs, [o.runId]: run };

  if (o.telemetryEvents > 0) {
    s.consecutiveZeroYield = 0;
  } else {
    s.consecutiveZeroYield += 1;
    if (v.zeroYieldReason) {
      s.zeroYield = { ...s.zeroYield, [v.zeroYieldReason]: (own(s.zeroYield, v.zeroYieldReason) ?? 0) + 1 };
    }
  }

  // Fingerprints: count; at the repeat limit the fingerprint is stopped and its run deprioritized.
  let seenBefore = false;
  if (v.fingerprint) {
    const before = own(s.fingerprintCounts, v.fingerprint) ?? 0;
    seenBefore = before > 0;
    const count = before + 1;
    s.fingerprintCounts = { ...s.fingerprintCounts, [v.fingerprint]: count };
    if (count >= config.maxFingerprintRepeats && !s.stoppedFingerprints.includes(v.fingerprint)) {
      s.stoppedFingerprints = [...s.stoppedFingerprints, v.fingerprint];
      s.deprioritizedRuns = addUnique(s.deprioritizedRuns, o.runId);
    }
  }

  // Sample-first triage.
  s.sampledRuns = addUnique(s.sampledRuns, o.runId);
  if (!o.success && seenBefore && o.telemetryEvents === 0) {
    s.deprioritizedRuns = addUnique(s.deprioritizedRuns, o.runId);
  }
  if ((o.success || o.telemetryEvents > 0 || o.timedOut) && !s.deprioritizedRuns.includes(o.runId)) {
    s.promisingRuns = addUnique(s.promisingRuns, o.runId);
  }
  s.promisingRuns = s.promisingRuns.filter((r) => !s.deprioritizedRuns.includes(r));

  // Timeouts per run remove the run from selection.
  if (run.timeouts >= config.maxTimeoutsPerRun && own(s.stoppedRuns, o.runId) === undefined) {
    s.stoppedRuns = {
      ...s.stoppedRuns,
      [o.runId]: `run ${o.runId} has ${run.timeouts} timeouts (limit: ${config.maxTimeoutsPerRun})`,
    };
  }

  return withDigest(s, o, slot);
}

/**
 * A lost or abandoned attempt: counted and shown, but it teaches nothing about the phase (no
 * fingerprint, no triage, no zero-yield streak). An abandoned one leaves the phase failed.
 */
function recordUnjudged(state: SessionState, o: AttemptOutcome, slot?: number): SessionState {
  const key = pairKey(o.runId, o.phaseId);
  const s: SessionState = { ...state, processed: state.processed + 1 };
  s.interrupted += o.interruptedTries;
  s.attempts = { ...s.attempts, [key]: Math.max(own(s.attempts, key) ?? 0, o.attempt) };
  Object.assign(s, withTokens(s, o));
  if (o.lost) s.lost += 1;
  if (o.abandoned) {
    s.abandoned += 1;
    s.failed += 1;
  }
  return withDigest(s, o, slot);
}

/** The session's token totals with this attempt's spend (unchanged when the outcome has no tokens). */
function withTokens(
  s: SessionState,
  o: AttemptOutcome,
): Pick<SessionState, 'tokensSpent' | 'tokensKnown' | 'tokensUnknown'> {
  if (!o.tokens) return {};
  const spent = o.tokens.phase;
  return spent === null
    ? { tokensUnknown: (s.tokensUnknown ?? 0) + 1 }
    : { tokensSpent: (s.tokensSpent ?? 0) + spent, tokensKnown: (s.tokensKnown ?? 0) + 1 };
}

function withDigest(s: SessionState, o: AttemptOutcome, slot?: number): SessionState {
  const digest: ResultDigest = {
    runId: o.runId,
    phaseId: o.phaseId,
    attempt: o.attempt,
    success: o.success,
    finalState: o.finalState,
    timedOut: o.timedOut,
    ...(o.stalled ? { stalled: true } : {}),
    ...(o.tokenCapped ? { tokenCapped: true } : {}),
    cancelled: o.cancelled,
    events: o.telemetryEvents,
    durationSeconds: o.durationSeconds,
    errorMessage: o.errorMessage,
    ...(o.tokens ? { tokens: o.tokens.phase } : {}),
    ...(o.lost ? { unjudged: 'lost' as const } : o.abandoned ? { unjudged: 'abandoned' as const } : {}),
  };
  s.recent = [...s.recent, digest].slice(-MAX_RECENT_KEPT);
  s.log = appendEvents(s.log, [{ kind: 'result', digest, ...slotTag(slot) }]);
  return s;
}
