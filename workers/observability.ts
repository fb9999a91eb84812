/**
 * A worker's telemetry, installed before anything else touches the SDK runtime:
 *
 * - KILN_METRICS_PORT=P: Prometheus text on http://0.0.0.0:P/metrics, served by the SDK runtime's
 *   own exporter. kiln's metrics (lib/observability/metrics.ts) are instruments of that runtime's
 *   meter, so the one port serves both: the SDK's temporal_* series and kiln's kiln_* (custom
 *   metrics take no prefix). Unset: no endpoint.
 * - KILN_LOG_FORMAT=json: log lines as JSON on stderr (lib/observability/jsonLog.ts), the SDK
 *   core's own lines forwarded into the same logger. Default (`text`): the SDK's human format.
 *
 * Returns the activity interceptors that record stage metrics and name the stage in log lines.
 */
import { DefaultLogger, Runtime, type WorkerOptions } from '@temporalio/worker';
import { activityObservability } from '../lib/observability/activityInterceptor.js';
import { STAGE_DURATION_BUCKETS, useMetricMeter } from '../lib/observability/metrics.js';
import { writeJsonLog } from '../lib/observability/jsonLog.js';

const LOG_FORMATS = ['text', 'json'] as const;

export function metricsPort(env = process.env): number | undefined {
  const raw = env.KILN_METRICS_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Expected KILN_METRICS_PORT to be a port number (1-65535), got \`${raw}\`.`);
  }
  return port;
}

export function logFormat(env = process.env): (typeof LOG_FORMATS)[number] {
  const raw = env.KILN_LOG_FORMAT || 'text';
  const format = LOG_FORMATS.find((f) => f === raw);
  if (!format) throw new Error(`Expected KILN_LOG_FORMAT to be one of ${LOG_FORMATS.join(', ')}, got \`${raw}\`.`);
  return format;
}

export function installObservability(env = process.env): Pick<WorkerOptions, 'interceptors'> {
  const port = metricsPort(env);
  const json = logFormat(env) === 'json';
  const runtime = Runtime.install({
    logger: json ? new DefaultLogger('INFO', writeJsonLog) : new DefaultLogger('INFO'),
    telemetryOptions: {
      ...(json ? { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } } : {}),
      ...(port === undefined
        ? {}
        : { metrics: { prometheus: { bindAddress: `0.0.0.0:${port}`, histogramBucketOverrides: { kiln_stage_duration_seconds: STAGE_DURATION_BUCKETS } } } }),
    },
  });
  if (port !== undefined) useMetricMeter(runtime.metricMeter);
  return { interceptors: { activity: [activityObservability] } };
}

/** The worker's own lines (start-up, shutdown) through the same logger as the SDK's. */
export function workerLog(message: string, meta?: Record<string, unknown>): void {
  Runtime.instance().logger.info(message, meta);
}
