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

export function createGpuActivities(deps: NodeDeps) {
  return {
    claimWorker: createClaimWorker(deps),
    trainNode: createTrainNode(deps),
    latestCheckpoint,
    trainingReport,
    exportModelStage,
    generateSamplesStage,
    generatePart,
    deployModel,
    registerDeployment,
  };
}
