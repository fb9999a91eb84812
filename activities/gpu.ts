// Activities of the GPU worker: training nodes, export, generation for eval, deployment.
import { deployModel } from './deploy.js';
import { registerDeployment } from './gateway.js';
import { generatePart } from './eval/run/index.js';
import { exportModelStage } from './exportModel.js';
import { generateSamplesStage } from './generateSamples.js';
import { trainingReport } from './report/trainingReport.js';
import { latestCheckpoint } from './train/checkpoints.js';
import { createClaimWorker } from './train/claim.js';
import { createTrainNode, type NodeDeps } from './train/node.js';
import { NodeSlot } from './train/nodeSlot.js';

export function createGpuActivities(deps: NodeDeps) {
  // Shared by the claim (shared queue) and the node (own queue): one gang per worker.
  const withSlot = { ...deps, slot: deps.slot ?? new NodeSlot() };
  return {
    claimWorker: createClaimWorker(withSlot),
    trainNode: createTrainNode(withSlot),
    latestCheckpoint,
    trainingReport,
    exportModelStage,
    generateSamplesStage,
    generatePart,
    deployModel,
    registerDeployment,
  };
}
