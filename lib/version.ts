// Bumped when a stage's output for the same inputs changes; part of every fingerprint,
// so a new code version never reuses an old stage's memoized output.
export const CODE_VERSION = 'kiln-0.1.0';
