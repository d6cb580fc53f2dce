/**
 * p2p-dht-node in the browser (`p2p-dht-node/browser`): the same node as in Node, on the browser's
 * own WebRTC, with its key in IndexedDB and files sent from and received into Blobs. The server,
 * the CLI and the inspector page are Node's only.
 */
export { createNode, P2PNode } from './node/node.js';
export { closeError } from './node/errors.js';
export type { CloseOptions, ConnectOptions, NodeSnapshot, PeerEvent, PeerInfo, SendOptions, Transition } from './node/types.js';
export { DEFAULT_TIMEOUTS, type NodeDhtOptions, type NodeOptions, type NodeTimeouts } from './node/options.js';
export { STUN_PRESETS, stunPreset } from './node/stunPresets.js';
export type { Discovery, GotRecord, PutRecord } from './node/dhtApi.js';
export type { DhtInfo } from './node/dhtInfo.js';
export { forgetBrowserIdentity, leaseBrowserIdentity, loadBrowserIdentity } from './browser/identityStore.js';
export { generateIdentity, identityFromSeed } from './wire/identity.js';
export { loopbackOnly, type CandidateFilter, type CandidateInfo } from './webrtc/candidates.js';
export type { RouteInfo } from './webrtc/fingerprint.js';
export type { DataMessage } from './data/dataPlane.js';
export type { BlobLike } from './files/source.js';
export type { FileOptions, IncomingFile, ReceivedFile, SendFileOptions, SentFile, TransferProgress } from './files/types.js';
export type { IceServer } from './services/webrtcTransport.js';
export { isNodeId, nodeIdOf, type Identity } from './wire/keys.js';
export { ERROR_CODES, P2PError, type ErrorCode } from './errors.js';
export { silentLogger, type Logger } from './log.js';
