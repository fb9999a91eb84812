// "Release N+1" for the upgrade test: today's workflows plus one workflow change, made the way
// the README says to ship one: behind patched(). Every workflow of the new release records the
// release it started on in its memo (a new command at the start of every workflow). A run started
// on release N replays on these workers without the marker and goes on as it began.
import { patched, upsertMemo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const NEXT_RELEASE_PATCH = 'kiln-next-release-memo';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        if (patched(NEXT_RELEASE_PATCH)) upsertMemo({ startedOnRelease: 'next' });
        return next(input);
      },
    },
  ],
});
