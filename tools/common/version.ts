// The package's name and version for --version, read from the package.json
// above this file: the same code runs from the checkout (tools/common), the
// bundles (dist/*.js) and the compiled library (dist/tools/common).

import * as fs from 'node:fs';
import * as path from 'node:path';

export const PACKAGE_NAME = 'virtiofs-dax';

/** The directory of this package's package.json, or undefined. */
export function packageRoot(from: string = __dirname): string | undefined {
  for (let d = from; ; d = path.dirname(d)) {
    try {
      const pj = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as { name?: string };
      if (pj.name === PACKAGE_NAME) return d;
    } catch { /* none here, or not JSON */ }
    if (path.dirname(d) === d) return undefined;
  }
}

export function packageVersion(): string {
  const root = packageRoot();
  if (!root) return 'unknown';
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What `PROGRAM --version` prints: "virtiofs-vmm 0.1.0 (virtiofs-dax, node v20.x)". */
export function versionLine(program: string): string {
  return `${program} ${packageVersion()} (${PACKAGE_NAME}, node ${process.version})`;
}
