import { fileURLToPath } from 'node:url';

/** Path of the module that exports every workflow (bundled by the worker for its sandbox). */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
