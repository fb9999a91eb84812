// Loaded by path into the workers' workflow sandbox and by the clients: failure messages and
// stack traces (which may quote paths and config values) travel as an encoded payload, so the
// payload codec encrypts them too. Workflow-safe: imports @temporalio/common only.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
