// The metric names the Grafana dashboard may query, by source, and a reader of the names in a
// PromQL expression. A panel on a misspelt metric shows "No data" forever, which nobody notices
// until the day it is needed.

/** kiln's own, served by every worker on :$KILN_METRICS_PORT/metrics (README, "Observability"). */
export const KILN_METRICS = {
  kiln_stage_duration_seconds: 'histogram',
  kiln_stage_rows_total: 'counter',
  kiln_stage_bytes_total: 'counter',
  kiln_stage_rows_per_second: 'gauge',
  kiln_stage_bytes_per_second: 'gauge',
  kiln_gang_restarts_total: 'counter',
  kiln_training_step: 'gauge',
  kiln_training_steps_per_second: 'gauge',
  kiln_training_loss: 'gauge',
  kiln_training_tokens_per_second: 'gauge',
  kiln_activity_failures_total: 'counter',
} as const;

/**
 * The Temporal SDK runtime's, as @temporalio/worker 1.24 serves them on its Prometheus endpoint
 * (read from a worker that ran a workflow and an activity): counters without `_total`, durations
 * in milliseconds.
 */
export const SDK_METRICS = {
  temporal_activity_execution_latency: 'histogram',
  temporal_activity_schedule_to_start_latency: 'histogram',
  temporal_activity_succeed_endtoend_latency: 'histogram',
  temporal_activity_task_received: 'counter',
  temporal_long_request: 'counter',
  temporal_long_request_latency: 'histogram',
  temporal_num_pollers: 'gauge',
  temporal_request: 'counter',
  temporal_request_latency: 'histogram',
  temporal_sticky_cache_hit: 'counter',
  temporal_sticky_cache_size: 'gauge',
  temporal_worker_start: 'counter',
  temporal_worker_task_slots_available: 'gauge',
  temporal_worker_task_slots_used: 'gauge',
  temporal_workflow_completed: 'counter',
  temporal_workflow_endtoend_latency: 'histogram',
  temporal_workflow_task_execution_latency: 'histogram',
  temporal_workflow_task_queue_poll_succeed: 'counter',
  temporal_workflow_task_replay_latency: 'histogram',
  temporal_workflow_task_schedule_to_start_latency: 'histogram',
} as const;

/** The Temporal server's (PROMETHEUS_ENDPOINT), as the dev server 1.x serves them on --metrics-port: durations in seconds. */
export const SERVER_METRICS = {
  service_requests: 'counter',
  service_latency: 'histogram',
  persistence_requests: 'counter',
  persistence_latency: 'histogram',
} as const;

/** Prometheus's own series for every target. */
export const SCRAPE_METRICS = { up: 'gauge' } as const;

const KNOWN: Record<string, string> = { ...KILN_METRICS, ...SDK_METRICS, ...SERVER_METRICS, ...SCRAPE_METRICS };

/** The series names a histogram exposes. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/** The metric family of a series name (kiln_stage_duration_seconds_bucket -> kiln_stage_duration_seconds), or undefined when unknown. */
export function metricFamily(series: string): string | undefined {
  if (KNOWN[series] && KNOWN[series] !== 'histogram') return series;
  for (const s of HISTOGRAM_SUFFIXES) {
    const base = series.endsWith(s) ? series.slice(0, -s.length) : undefined;
    if (base && KNOWN[base] === 'histogram') return base;
  }
  return undefined;
}

/** PromQL's functions, aggregations and keywords: the identifiers of an expression that are not metrics. */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan',
]);

/** The metric names an expression selects: identifiers outside label matchers, strings and ranges that are not functions or keywords. */
export function metricsInPromQL(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values, regexes)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range and subquery windows
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names = new Set<string>();
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const next = bare.slice(m.index! + word.length).trimStart();
    if (next.startsWith('(') || PROMQL_WORDS.has(word.toLowerCase()) || word.startsWith('$')) continue;
    if (bare[m.index! - 1] === '$') continue; // a Grafana variable ($__range, $run)
    names.add(word);
  }
  return [...names];
}
