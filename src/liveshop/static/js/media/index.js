// Picks the publish/watch implementation for the service's media mode (GET /api/config).
import { createP2PPublisher } from './p2p-publish.js';
import { createP2PWatcher } from './p2p-watch.js';
import { createSfuPublisher } from './sfu-publish.js';
import { createSfuWatcher } from './sfu-watch.js';

export { WhipUnavailable } from './sfu-publish.js';

export function createPublisher(mode, options) {
  if (mode === 'p2p') return createP2PPublisher(options);
  if (mode === 'sfu') return createSfuPublisher(options);
  throw new Error(`media mode "${mode}" is not supported by this page yet`);
}

export function createWatcher(mode, options) {
  if (mode === 'p2p') return createP2PWatcher(options);
  if (mode === 'sfu') return createSfuWatcher(options);
  throw new Error(`media mode "${mode}" is not supported by this page yet`);
}
