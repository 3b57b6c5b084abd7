// Imported first by a test file that runs without the native addons: set
// before any module loads one (core/addon.node.ts reads it at load).
process.env.VIRTIOFS_NO_ADDON = '1';
