// The in-process client typed for a PassthroughServer (its lookup counts
// and handle counts stay reachable as client.server).

import { FuseClient } from '../fuse';
import type { PassthroughServer } from './server';

export class PassthroughClient extends FuseClient<PassthroughServer> {}
