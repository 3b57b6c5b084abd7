// The vhost-user front-end: codec, connection, daemon launcher, device backend.
export * from './protocol';
export { VhostUserConnection, DEFAULT_REPLY_TIMEOUT_MS } from './connection';
export { vhostUserAddonMissing } from './socket';
export { VirtiofsdProcess, VIRTIOFSD_PATH, virtiofsdEnv, within } from './daemon';
export type { VirtiofsdOptions } from './daemon';
export { VringNotifiers } from './notifiers';
export { VhostUserFrontend } from './frontend';
export type { VhostUserStartOptions } from './frontend';
export { VhostUserBackend, DEFAULT_USERSPACE_ADDR } from './backend';
export type { VhostUserBackendOptions } from './backend';
