// Picks the publish/watch implementation for the service's media mode (GET /api/config).
// Two families: `p2p` (the seller's page sends to each shopper, signalled through the hub) and the
// modes where a server forwards the media behind liveshop's WHIP/WHEP endpoints (`sfu`: liveshop
// itself, `janus`: Janus instances). The pages only ever ask `forwardedByServer(mode)`.
import { withJanusPayloadTypes } from './janus-offer.js';
import { createP2PPublisher } from './p2p-publish.js';
import { createP2PWatcher } from './p2p-watch.js';
import { createSfuPublisher } from './sfu-publish.js';
import { createSfuWatcher } from './sfu-watch.js';

export { WhipUnavailable } from './sfu-publish.js';

/** Media modes whose media a server forwards (same WHIP/WHEP URLs for the pages). */
const SERVER_MODES = new Set(['sfu', 'janus']);

/** The server's media mode is one this page does not know (e.g. a newer server). */
export class UnsupportedMediaMode extends Error {
  constructor(mode) {
    super(`this page does not support the server's media mode "${mode}" (try reloading)`);
    this.mode = mode;
  }
}

/** True when a server receives the seller's video and sends it on (and records the show). */
export function forwardedByServer(mode) {
  return SERVER_MODES.has(mode);
}

export function createPublisher(mode, options) {
  if (mode === 'p2p') return createP2PPublisher(options);
  if (forwardedByServer(mode)) return withMode(createSfuPublisher(options), mode);
  throw new UnsupportedMediaMode(mode);
}

export function createWatcher(mode, options) {
  if (mode === 'p2p') return createP2PWatcher(options);
  if (mode === 'janus') return withMode(createSfuWatcher({ ...options, prepareOffer: withJanusPayloadTypes }), mode);
  if (forwardedByServer(mode)) return withMode(createSfuWatcher(options), mode);
  throw new UnsupportedMediaMode(mode);
}

/** The same object, reporting the server's mode name (getters kept). */
function withMode(impl, mode) {
  Object.defineProperty(impl, 'mode', { value: mode, enumerable: true });
  return impl;
}
