// Integer helpers shared by the layers: exact for every safe integer (no
// bitwise operators, which truncate to 32 bits).

export const U32_MAX = 0xffffffff;

/** True for 1, 2, 4, ... up to 2^52. */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}
