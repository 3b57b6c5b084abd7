// A wrapper that hands the DAX manager nothing but the DaxPlacement
// interface of a policy, each changing call counted: the manager's tests
// run OSv's stack and Linux's range pool (fs/virtiofs/dax/pool.ts) through
// it, so the manager can reach nothing else of either.
import type { DaxPlacement } from '../../../fs/virtiofs/dax';

/** Exactly the interface's methods, each changing one counted. */
export function interfaceOnly(p: DaxPlacement, calls: Record<string, number> = {}): DaxPlacement {
  const count = (k: string) => { calls[k] = (calls[k] ?? 0) + 1; };
  const wrapped: DaxPlacement = {
    get name() { return p.name; },
    get windowChunks() { return p.windowChunks; },
    lookup: (nodeid, fstart) => p.lookup(nodeid, fstart),
    runEnd: (mc) => p.runEnd(mc),
    firstEmpty: () => p.firstEmpty(),
    freeChunks: () => p.freeChunks(),
    place: (nodeid, fstart, nchunks, evict) => { count('place'); return p.place(nodeid, fstart, nchunks, evict); },
    commit: (nodeid, fstart, placed) => { count('commit'); p.commit(nodeid, fstart, placed); },
    abort: (placed) => { count('abort'); p.abort(placed); },
    victims: (nchunks) => p.victims(nchunks),
    evict: (nchunks) => { count('evict'); return p.evict(nchunks); },
    drop: (nodeid) => { count('drop'); p.drop(nodeid); },
    remove: (nodeid, ffrom, fto) => { count('remove'); return p.remove(nodeid, ffrom, fto); },
    clear: () => { count('clear'); p.clear(); },
    mappings: () => p.mappings(),
  };
  if (p.reclaimWanted) wrapped.reclaimWanted = () => p.reclaimWanted!();
  return wrapped;
}
