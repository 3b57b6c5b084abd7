// Loading one of the project's own native addons (built by tools/addons.js
// at `prepare`), with the reason when it is missing: callers fall back then.
// Addons are found from the package root, so the bundled programs in dist/
// (whose __dirname is dist/) load them too. VIRTIOFS_NO_ADDON set to
// anything disables them all, to run the fallbacks.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LoadedAddon<T> {
  /** The addon, or undefined when it is not built or is disabled. */
  readonly addon: T | undefined;
  /** Why there is no addon. */
  readonly why: string | undefined;
}

const PACKAGE = 'virtiofs-dax';

/** The nearest directory at or above `from` whose package.json names this package. */
export function packageRoot(from: string = __dirname): string | undefined {
  for (let d = from; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try { if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === PACKAGE) return d; } catch { /* not ours */ }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * The addon `<dir>/build/Release/<target>.node` (dir relative to the package
 * root, e.g. 'core/native'); `hint` says how it gets built.
 */
export function loadAddon<T>(dir: string, target: string, hint: string): LoadedAddon<T> {
  if (process.env.VIRTIOFS_NO_ADDON) return { addon: undefined, why: 'VIRTIOFS_NO_ADDON is set' };
  const root = packageRoot();
  const rel = path.join(dir, 'build', 'Release', `${target}.node`);
  const file = root && path.join(root, rel);
  if (!file || !fs.existsSync(file)) return { addon: undefined, why: `${dir} was not built (${hint})` };
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return { addon: require(file) as T, why: undefined };
  } catch (e) {
    return { addon: undefined, why: `${rel}: ${(e as Error).message}` };
  }
}
