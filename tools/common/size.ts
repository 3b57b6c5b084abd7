// Sizes as QEMU's options take them: a number with an optional suffix
// K/M/G/T (powers of 1024; "KiB"/"k"/"kb" spellings too). "0" is zero.

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`not a size: "${text}" (examples: 4096, 64K, 2M, 1G)`);
  const value = Number(m[1]) * UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a whole number of bytes: "${text}"`);
  return value;
}

export function formatSize(bytes: number): string {
  for (const [u, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return `${bytes}`;
}
