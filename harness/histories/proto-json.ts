/**
 * Workflow histories to and from proto JSON (the format of `temporal workflow show --output
 * json`), for recorded fixtures (fixture.ts).
 */
import { createRequire } from 'node:module';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import type * as protoTypes from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';
import type { RecordedRun } from './fixture.js';

// The SDK's historyToJSON/historyFromJSON (@temporalio/common/lib/proto-utils) throw
// "type must be a Type" in this install: npm nests a separate protobufjs 8 copy under
// @temporalio/common and under @temporalio/proto (the root has protobufjs 7 for grpc), and
// protojson's `instanceof Type` check fails across the copies. Worker.runReplayHistories calls
// historyFromJSON for a history whose event ids are strings, so it cannot take proto JSON here
// either. The fallback does the same conversion with the protojson of the protobufjs copy that
// @temporalio/proto itself uses, and hands the replay worker a decoded History.

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}
let fallback: { protojson: ProtoJson; historyType: unknown; proto: typeof protoTypes } | null = null;
function protoJsonFallback() {
  if (!fallback) {
    const require = createRequire(import.meta.url);
    // The CommonJS module itself (as the SDK requires it), not an ESM namespace wrapper.
    const proto = require('@temporalio/proto') as typeof protoTypes;
    const protojson = createRequire(require.resolve('@temporalio/proto'))(
      'protobufjs/ext/protojson',
    ) as ProtoJson;
    const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
    fallback = { protojson, historyType: root.lookupType('temporal.api.history.v1.History'), proto };
  }
  return fallback;
}
const isDuplicateProtobufError = (err: unknown) =>
  err instanceof TypeError && /must be a Type/.test(err.message);

/** History → proto JSON object (what `temporal workflow show --output json` prints). */
export function historyToProtoJson(history: History): RecordedRun['history'] {
  try {
    return JSON.parse(historyToJSON(history));
  } catch (err) {
    if (!isDuplicateProtobufError(err)) throw err;
    const { protojson, historyType, proto } = protoJsonFallback();
    const message = proto.temporal.api.history.v1.History.fromObject(history);
    return protojson.toJson(historyType, message) as RecordedRun['history'];
  }
}

/** Enum names written in PascalCase by older tools, as historyFromJSON fixes them. */
function fixEnums(json: RecordedRun['history']): RecordedRun['history'] {
  const fix = (o: Record<string, unknown> | undefined, attr: string, prefix: string) => {
    const v = o?.[attr];
    if (typeof v === 'string' && !v.startsWith(prefix))
      o![attr] = `${prefix}_${v.replace(/[^\b][A-Z]/g, (m) => `${m[0]}_${m[1]}`).toUpperCase()}`;
  };
  const copy = structuredClone(json);
  for (const e of copy.events) {
    fix(e, 'eventType', 'EVENT_TYPE');
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes'));
    const a = key ? (e[key] as Record<string, unknown>) : undefined;
    fix(a?.taskQueue as Record<string, unknown> | undefined, 'kind', 'TASK_QUEUE_KIND');
    fix(a, 'parentClosePolicy', 'PARENT_CLOSE_POLICY');
    fix(a, 'workflowIdReusePolicy', 'WORKFLOW_ID_REUSE_POLICY');
    fix(a, 'initiator', 'CONTINUE_AS_NEW_INITIATOR');
    fix(a, 'retryState', 'RETRY_STATE');
    fix(
      a?.childWorkflowExecutionFailureInfo as Record<string, unknown> | undefined,
      'retryState',
      'RETRY_STATE',
    );
  }
  return copy;
}

/** Proto JSON (as historyFromJSON takes it) → History, for Worker.runReplayHistories. */
export function historyFromProtoJson(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch (err) {
    if (!isDuplicateProtobufError(err)) throw err;
    const { protojson, historyType } = protoJsonFallback();
    return protojson.fromJson(historyType, fixEnums(json as RecordedRun['history']), {
      ignoreUnknownFields: true,
    }) as History;
  }
}
