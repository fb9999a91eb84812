// Readable one-line summaries of Temporal failure chains (for status and summaries).
export function describeFailure(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur && parts.length < 4) {
    const e = cur as { message?: string; cause?: unknown };
    if (e.message) parts.push(e.message);
    cur = e.cause;
  }
  return parts.join(': ') || String(err);
}
