/**
 * dataReportStage: the data report of a run, as a stage of its own: `report.html` (a page a person
 * reads: inline SVG charts, works offline) and `report.json` (the same facts for machines), in
 * `<artifacts>/stages/data-report/<fingerprint>/`, content-addressed by the fingerprints of the
 * stages it reads. Any of ingest, clean and dedup may be left out (the report shows what it has).
 */
import { describeBytes, joinUri, runStage, type StageResult } from '../../lib/manifest.js';
import { defaultStore, type StageDeps } from '../support/stageIo.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { buildDataReport, DATA_REPORT_VERSION } from './dataReportModel.js';
import { renderDataReportHtml } from './dataReportHtml.js';
import { profileStage, type StageProfile } from './readStages.js';
import { DATA_STAGES, type DataStageName } from './stageChain.js';

export const DATA_REPORT_STAGE = 'data-report';
export const DATA_REPORT_HTML = 'report.html';
export const DATA_REPORT_JSON = 'report.json';

export interface DataReportInput {
  artifactsRoot: string;
  ingest?: StageResult;
  clean?: StageResult;
  dedup?: StageResult;
  /** Shown as the page title; not part of the fingerprint's inputs beyond the params. */
  title?: string;
}

/** The stage result's stats carry the page's URI, so the workflow can link it. */
export interface DataReportStats {
  html: string;
  json: string;
  files_in: number | null;
  files_out: number | null;
}

export async function dataReportStage(input: DataReportInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const chain = DATA_STAGES.flatMap((k) => (input[k] ? [[k, input[k]!] as const] : []));
  const title = input.title ?? 'Data report';
  return runStage({
    store,
    artifactsRoot: input.artifactsRoot,
    stage: DATA_REPORT_STAGE,
    params: { version: DATA_REPORT_VERSION, title },
    inputs: chain.map(([role, r]) => ({ role, stage: r.stage, fingerprint: r.fingerprint })),
    work: async (dir) => {
      const profiles: Partial<Record<DataStageName, StageProfile>> = {};
      const files = chain.reduce((n, [, r]) => n + r.outputs.length, 0);
      let filesDone = 0;
      await withHeartbeat(
        async () => {
          for (const [role, result] of chain) profiles[role] = await profileStage(store, result, () => filesDone++);
        },
        () => ({ filesDone, files }),
      );
      const report = buildDataReport(profiles);
      const htmlUri = joinUri(dir, DATA_REPORT_HTML);
      const jsonUri = joinUri(dir, DATA_REPORT_JSON);
      const html = new TextEncoder().encode(renderDataReportHtml(report, title));
      const json = new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n');
      await store.writeBytes(htmlUri, html);
      await store.writeBytes(jsonUri, json);
      const first = report.summary[0];
      const last = report.summary[report.summary.length - 1];
      const stats: DataReportStats = { html: htmlUri, json: jsonUri, files_in: first?.filesIn ?? first?.filesOut ?? null, files_out: last?.filesOut ?? null };
      return { outputs: [describeBytes(htmlUri, html), describeBytes(jsonUri, json)], stats: { ...stats } };
    },
  });
}
