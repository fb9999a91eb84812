// One error family for the whole project: ApplicationFailure with a stable `type`.
// Retry decisions are made by type (see workflows' retry policies), never by message text.
import { ApplicationFailure } from '@temporalio/common';

export const ErrorType = {
  /** The pipeline config failed validation. */
  InvalidConfig: 'KilnInvalidConfig',
  /** An input file exists but cannot be read as what it claims to be (bad Parquet, bad JSONL...). */
  InvalidInput: 'KilnInvalidInput',
  /** An input has the wrong schema (missing or mistyped columns). */
  SchemaMismatch: 'KilnSchemaMismatch',
  /** An input URI names nothing. */
  NotFound: 'KilnNotFound',
  /** A URI scheme or option this build does not support. */
  Unsupported: 'KilnUnsupported',
  /** Credentials are missing or refused by the store. */
  AccessDenied: 'KilnAccessDenied',
  /** The native trainer exited with an error that a retry will not fix (bad arguments, NaN loss...). */
  TrainerFatal: 'KilnTrainerFatal',
  /** A gang node failed (lost peer, crashed process): the training workflow restarts the gang. */
  NodeFailed: 'KilnNodeFailed',
  /** A gang node's trainer went silent (rank 0's watchdog killed it). */
  NodeHung: 'KilnNodeHung',
  /** A gang node's worker is shutting down (its trainer checkpointed first). */
  NodeShutdown: 'KilnNodeShutdown',
  /** A gang node cut off from Temporal (or replaced by a newer gang) stopped its trainer and may no longer commit checkpoints. */
  NodeFenced: 'KilnNodeFenced',
  /** A GPU worker refused a claim: it is promised to another gang's node (retryable: another worker takes it). */
  WorkerBusy: 'KilnWorkerBusy',
  /** The gang was restarted too many times. */
  GangRestartsExhausted: 'KilnGangRestartsExhausted',
  /** A native tool (export, generation, the sandbox runner, the inference server) crashed, hung or
   *  exited unexpectedly: retryable, on this worker or another. Bad input exits 2 and is fatal instead. */
  ToolFailed: 'KilnToolFailed',
  /** The deployed endpoint failed its smoke test. */
  SmokeTestFailed: 'KilnSmokeTestFailed',
  /** The candidate's eval dropped below the baseline by more than `eval.gate` allows: the deploy stops. */
  EvalGateFailed: 'KilnEvalGateFailed',
  /** A conditional write lost its race too many times (another writer kept changing the object): retryable. */
  Conflict: 'KilnConflict',
  /** The artifact store is unreachable, answered 5xx or throttled (an S3 outage): retryable. */
  StoreUnavailable: 'KilnStoreUnavailable',
  /** The artifact store's disk (or quota) is full: retryable once an operator frees space. */
  StoreFull: 'KilnStoreFull',
  /** A service kiln drives (the gateway's admin API) is unreachable or answered 5xx: retryable. */
  ServiceUnavailable: 'KilnServiceUnavailable',
  /** An encrypted payload names a key this process lacks, or fails AES-GCM authentication. */
  PayloadUndecryptable: 'KilnPayloadUndecryptable',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types that no retry can fix: activities' retry policies list these as non-retryable. */
export const nonRetryableErrorTypes: ErrorType[] = [
  ErrorType.InvalidConfig,
  ErrorType.InvalidInput,
  ErrorType.SchemaMismatch,
  ErrorType.NotFound,
  ErrorType.Unsupported,
  ErrorType.AccessDenied,
  ErrorType.TrainerFatal,
  ErrorType.GangRestartsExhausted,
  ErrorType.EvalGateFailed,
  ErrorType.PayloadUndecryptable,
];

/** A failure that a person must fix: never retried. */
export function fatal(type: ErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? [] : [details] });
}

/** A failure that a retry may fix (a lost node, a flaky network). */
export function transient(type: ErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false, details: details === undefined ? [] : [details] });
}

/**
 * Whether a retry may fix the failure `err`: not flagged non-retryable, and not of a type the
 * retry policies never retry (nonRetryableErrorTypes). Any other error (network, a crash) is retryable.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ApplicationFailure) return !err.nonRetryable && !(nonRetryableErrorTypes as readonly string[]).includes(err.type ?? '');
  return true;
}
