/**
 * A realistic demo backlog: Autopack-like runs whose FAILED phases act out sim scenarios.
 * Most complete in 0.2–1.5 s with 1–8 telemetry rows; one `hang` and one
 * `hang-with-children` need the controller's timeout; one run has a QUEUED phase.
 */
import type { PhaseSeed } from './seed.js';

const IMPORT_ERR = (mod: string) =>
  `CI collection/import error: ModuleNotFoundError: No module named '${mod}'`;
const TIMED_OUT = 'Phase timed out after 900s';
const done = (events: number, seconds: number) => ({ scenario: 'complete', events, seconds });

/** build130: schema validation (mostly recoverable failures) */
function build130Phases(): PhaseSeed[] {
  const build130 = 'build130-schema-validation';
  return [
    {
      runId: build130,
      phaseId: 'build130-phase0-schema-models',
      lastFailureReason: null,
      sim: done(3, 0.6),
    },
    {
      runId: build130,
      phaseId: 'build130-phase1-validator-core',
      lastFailureReason: IMPORT_ERR('autopack.schema_validation'),
      sim: done(2, 0.4),
    },
    {
      runId: build130,
      phaseId: 'build130-phase2-cli-wiring',
      lastFailureReason: 'Missing deliverables: src/autopack/cli/validate.py, tests/test_validate_cli.py',
      sim: {
        scenario: 'fail',
        events: 1,
        seconds: 0.5,
        reason: 'Missing deliverables: tests/test_validate_cli.py',
      },
    },
    {
      runId: build130,
      phaseId: 'build130-phase3-error-messages',
      lastFailureReason: 'Patch application failed: hunk #2 FAILED at 88 (src/autopack/schema/errors.py)',
      sim: done(4, 0.8),
    },
    {
      runId: build130,
      phaseId: 'build130-phase4-docs',
      lastFailureReason: 'No-op patch: builder produced no changes',
      sim: done(1, 0.3),
      taskCategory: 'docs',
      complexity: 'low',
    },
  ];
}

/** research-system-v4: import errors that repeat, a crash, a hang */
function v4Phases(): PhaseSeed[] {
  const v4 = 'research-system-v4';
  return [
    {
      runId: v4,
      phaseId: 'research-tracer-bullet',
      lastFailureReason: IMPORT_ERR('autopack.research'),
      sim: { scenario: 'fail', seconds: 0.3, reason: IMPORT_ERR('autopack.research') },
    },
    {
      runId: v4,
      phaseId: 'research-gatherers-web',
      lastFailureReason: null,
      sim: { scenario: 'hang' },
    },
    {
      runId: v4,
      phaseId: 'research-analysis-pipeline',
      lastFailureReason: null,
      sim: { scenario: 'crash', events: 1, seconds: 0.3 },
      complexity: 'high',
    },
    {
      runId: v4,
      phaseId: 'research-citation-validator',
      lastFailureReason:
        "CI collection/import error: ImportError: cannot import name 'CitationValidator' from 'autopack.research.validators'",
      sim: done(5, 1.0),
    },
    {
      runId: v4,
      phaseId: 'research-meta-analysis',
      lastFailureReason: TIMED_OUT,
      sim: done(8, 1.5),
      complexity: 'high',
    },
  ];
}

/** research-system-v6: the odd executors */
function v6Phases(): PhaseSeed[] {
  const v6 = 'research-system-v6';
  return [
    {
      runId: v6,
      phaseId: 'research-v6/synthèse «résumé» 🧪',
      name: 'Synthèse des résultats — 研究总结',
      lastFailureReason: null,
      sim: { scenario: 'unicode', events: 2, seconds: 0.4 },
    },
    {
      runId: v6,
      phaseId: 'research-v6-source-ranking',
      lastFailureReason: 'Missing deliverables: src/autopack/research/ranking.py',
      sim: { scenario: 'stderr-exit0', seconds: 0.3 },
    },
    {
      runId: v6,
      phaseId: 'research-v6-token-budget',
      lastFailureReason: 'Builder output truncated (stop_reason=max_tokens)',
      sim: { scenario: 'escalate', escalations: 2, events: 1, seconds: 0.4 },
    },
    {
      runId: v6,
      phaseId: 'research-v6-llm-synthesis',
      lastFailureReason: null,
      sim: { scenario: 'llm-boundary', seconds: 0.5 },
    },
    {
      runId: v6,
      phaseId: 'research-v6-report-writer',
      lastFailureReason: 'Patch application failed: patch is a no-op (0 lines changed)',
      sim: done(3, 0.5),
    },
  ];
}

/** telemetry-collection-v2: small utility phases, mostly completing */
function telemetryPhases(): PhaseSeed[] {
  const tele = 'telemetry-collection-v2';
  return [
    {
      runId: tele,
      phaseId: 'telemetry-p1-string-util',
      lastFailureReason: null,
      sim: done(1, 0.2),
      complexity: 'low',
    },
    {
      runId: tele,
      phaseId: 'telemetry-p2-number-format',
      lastFailureReason: null,
      sim: done(2, 0.3),
      complexity: 'low',
    },
    {
      runId: tele,
      phaseId: 'telemetry-p3-date-parse',
      lastFailureReason: TIMED_OUT,
      sim: done(6, 1.2),
    },
    {
      runId: tele,
      phaseId: 'telemetry-p4-list-ops',
      lastFailureReason: IMPORT_ERR('autopack.telemetry.collectors'),
      sim: done(2, 0.5),
    },
    {
      runId: tele,
      phaseId: 'telemetry-p5-dict-merge',
      lastFailureReason: 'Missing deliverables: tests/test_dict_merge.py',
      sim: {
        scenario: 'fail',
        events: 1,
        seconds: 0.4,
        reason: 'Missing deliverables: tests/test_dict_merge.py',
      },
    },
    {
      runId: tele,
      phaseId: 'telemetry-p6-process-pool',
      lastFailureReason: TIMED_OUT,
      sim: { scenario: 'hang-with-children' },
    },
    { runId: tele, phaseId: 'telemetry-p7-json-schema', state: 'COMPLETE', sim: done(1, 0.2) },
  ];
}

/** build129: has a QUEUED phase (skip-runs-with-queued skips the whole run) */
function build129Phases(): PhaseSeed[] {
  const build129 = 'build129-token-budget-tuning';
  return [
    {
      runId: build129,
      phaseId: 'build129-p1-estimator',
      state: 'QUEUED',
      lastFailureReason: null,
      sim: done(2, 0.3),
    },
    {
      runId: build129,
      phaseId: 'build129-p2-escalation-policy',
      lastFailureReason: 'TOKEN_ESCALATION: output truncated at max_tokens',
      sim: done(3, 0.6),
    },
    {
      runId: build129,
      phaseId: 'build129-p3-telemetry-wiring',
      lastFailureReason: null,
      sim: done(1, 0.3),
    },
  ];
}

export function sampleBacklog(): PhaseSeed[] {
  return [...build130Phases(), ...v4Phases(), ...v6Phases(), ...telemetryPhases(), ...build129Phases()];
}
