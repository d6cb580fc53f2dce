/**
 * p2p-dht-node: nodes that find each other through a signaling server and then talk directly over
 * signed, encrypted WebRTC data channels. Importing this module has no side effects.
 */
// The node.
export { createNode, P2PNode } from './node/node.js';
export { closeError } from './node/errors.js';
export type { CloseOptions, ConnectOptions, NodeSnapshot, PeerEvent, PeerInfo, SendOptions, Transition } from './node/types.js';
export type { HeartbeatOptions } from './data/liveness.js';
export { DEFAULT_TIMEOUTS, type InspectOptions, type NodeDhtOptions, type NodeOptions, type NodeTimeouts } from './node/options.js';
export { STUN_PRESETS, stunPreset } from './node/stunPresets.js';
export type { Discovery, GotRecord, PutRecord } from './node/dhtApi.js';
export type { DhtInfo } from './node/dhtInfo.js';
export { defaultIdentityPath, loadOrCreateIdentity } from './services/identity.js';
export { generateIdentity, identityFromPem, identityFromSeed } from './wire/identity.js';
export { loopbackOnly, type CandidateFilter, type CandidateInfo } from './webrtc/candidates.js';
export type { RouteInfo } from './webrtc/fingerprint.js';
export type { DataMessage, UnreadLimits } from './data/dataPlane.js';
export type { FileOptions, IncomingFile, ReceivedFile, SendFileOptions, SentFile, TransferProgress } from './files/types.js';
export { FileKind, decodeFileMessage, encodeFileMessage, safeFileName, type FileMessage, type FileOffer } from './wire/fileWire.js';
export type { IceServer } from './services/webrtcTransport.js';

// The signaling server.
export { createSignalingServer, type SignalingServer } from './server/signalingServer.js';
export type { SignalingServerOptions } from './server/config.js';
export type { RejectReason, SignalingMetrics } from './server/serverMetrics.js';

// The DHT's pure parts: the engine, its records, for simulators and other transports.
export { Dht } from './dht/dht.js';
export type { DhtIo, DhtOptions } from './dht/options.js';
export { topicKey, mutableKey, type MutableRecord, type TopicRecord } from './dht/records.js';

// Both sides.
export { isNodeId, nodeIdOf, type Identity } from './wire/keys.js';
export { ERROR_CODES, P2PError, type ErrorCode } from './errors.js';
export { silentLogger, type Logger } from './log.js';

// The machines and their actor logic, to embed or `.provide()` with your own IO.
export { nodeMachine, peerActorId, type NodeInput } from './machines/node.machine.js';
export {
  peerConnectionMachine,
  type CloseReason,
  type PeerInput,
  type PeerOutput,
  type PeerTimeouts,
} from './machines/peerConnection.machine.js';
export { signalingMachine, backoffDelay, type SignalingInput } from './machines/signaling.machine.js';
export { dhtMachine, type DhtMachineInput } from './machines/dht.machine.js';
export { webrtcTransport } from './services/webrtcTransport.js';
export { signalingTransport } from './services/signalingTransport.js';

// Charts of the machines.
export { machineChart, type MachineChart, type ChartState, type ChartTransition } from './charts/chart.js';
export { toMermaid } from './charts/mermaid.js';
export { chartSvg } from './charts/svg.js';
