// End-to-end helpers: deterministic file contents for generated trees.

/** Deterministic pseudo-random bytes for a file of `size` bytes. */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}
