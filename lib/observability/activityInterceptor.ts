/**
 * One activity interceptor for the worker's metrics and logs: every activity attempt's duration,
 * its throughput (read from its result: workDone.ts) or its failure is recorded, and a log line
 * says how it ended, with the SDK's context (workflowId, attempt, ...) and `stage`.
 */
import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import { isRetryable } from '../../contracts/errors.js';
import { recordActivityFailure, recordStage } from './metrics.js';
import { workDone } from './workDone.js';


class StageMetrics implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const stage = this.ctx.info.activityType;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await next(input);
      const work = workDone(stage, result);
      recordStage(stage, seconds(), work);
      this.ctx.log.info('activity finished', { durationS: round(seconds()), ...work });
      return result;
    } catch (err) {
      recordStage(stage, seconds());
      // A cancellation (pause, a lost peer) is the workflow's decision, not a failure.
      if (!(err instanceof CancelledFailure)) recordActivityFailure(stage, isRetryable(err));
      throw err; // the SDK logs the failure itself (WARN "Activity failed", with the error)
    }
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** For WorkerOptions.interceptors.activity. */
export function activityObservability(ctx: Context): ActivityInterceptors {
  return {
    inbound: new StageMetrics(ctx),
    // Every log line of the activity (the SDK's and kiln's) names its stage.
    outbound: { getLogAttributes: (attrs, next) => next({ ...attrs, stage: ctx.info.activityType }) },
  };
}
