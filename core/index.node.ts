// core, the Node-side entry: everything portable (index.ts) and the Node-only
// parts: guest RAM in a shared-memory file, host file ranges for the window
// (positioned or mapped), and the native addons' loader. A portable file
// never imports this one; a program does.
export * from './index';
export * from './ram.node';
export * from './host-file.node';
export * from './mapped-range.node';
export { mmapAddon, mmapMissing, type MmapAddon } from './native/mmap.node';
export { loadAddon, packageRoot, type LoadedAddon } from './addon.node';
