// Shrinking a failing op sequence: keep only the last few ops if that is
// enough, then delta debugging (drop halves, quarters, ... single ops).
// Pure over a predicate; each probe replays from scratch.

export interface ShrinkBudget {
  /** Stop probing at this Date.now(). */
  until: number;
  /** Probes run so far (counted here). */
  probes: number;
}

/** A smaller list that still `fails`; `items` itself must fail. */
export async function shrink<T>(items: readonly T[], fails: (xs: T[]) => Promise<boolean>, budget: ShrinkBudget): Promise<T[]> {
  let cur = [...items];
  const probe = async (xs: T[]) => {
    if (Date.now() >= budget.until) return false;
    budget.probes++;
    return fails(xs);
  };
  // Most failures need only what came just before them.
  for (let k = 1; k < cur.length; k *= 2) {
    const tail = cur.slice(cur.length - k);
    if (await probe(tail)) { cur = tail; break; }
    if (Date.now() >= budget.until) return cur;
  }
  let n = 2;
  while (cur.length >= 2 && Date.now() < budget.until) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i * size < cur.length; i++) {
      const rest = [...cur.slice(0, i * size), ...cur.slice((i + 1) * size)];
      if (rest.length && await probe(rest)) {
        cur = rest;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (size === 1) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  return cur;
}
