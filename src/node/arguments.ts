/** Checks of the arguments the node's methods take, each failing with its own error code. */
import { P2PError, describeValue } from '../errors.js';
import type { BlobLike } from '../files/source.js';
import { isNodeId } from '../wire/keys.js';
import { isRecord } from '../wire/protocol.js';
import type { CloseOptions, ConnectOptions, SendOptions } from './types.js';

/** @throws P2PError ERR_INVALID_NODE_ID unless `value` is 64 lower-case hex digits. */
export function assertNodeId(value: unknown): asserts value is string {
  if (!isNodeId(value)) throw new P2PError('ERR_INVALID_NODE_ID', `not a node id (64 lower-case hex digits): ${describeValue(value)}`);
}

/** @throws P2PError ERR_INVALID_DATA unless `value` is a string or a Uint8Array (a Buffer is one). */
export function assertMessage(value: unknown): asserts value is string | Uint8Array {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new P2PError('ERR_INVALID_DATA', `a message must be a string or a Uint8Array, got ${describeValue(value)}`);
  }
}

/** @throws P2PError ERR_INVALID_OPTION unless `value` is a non-empty path or a Blob (anything with a size and `slice`). */
export function assertFileInput(value: unknown): asserts value is string | BlobLike {
  const blob = isRecord(value) && Number.isSafeInteger(value.size) && typeof value.slice === 'function';
  if (!(typeof value === 'string' && value !== '') && !blob) {
    throw new P2PError('ERR_INVALID_OPTION', `sendFile needs a file path or a Blob, got ${describeValue(value)}`);
  }
}

/** @throws P2PError ERR_INVALID_OPTION unless `value` is undefined or `{ signal?: AbortSignal }`. */
export function assertConnectOptions(value: unknown): asserts value is ConnectOptions | undefined {
  if (!isOptions(value, 'connect')) return;
  const { signal } = value as ConnectOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new P2PError('ERR_INVALID_OPTION', `options.signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
}

/** @throws P2PError ERR_INVALID_OPTION unless `value` is undefined or `{ force?: boolean }`. */
export function assertCloseOptions(value: unknown): asserts value is CloseOptions | undefined {
  if (isOptions(value, 'close')) assertFlag(value as Record<string, unknown>, 'force');
}

/** @throws P2PError ERR_INVALID_OPTION unless `value` is undefined or `{ delivered?: boolean }`. */
export function assertSendOptions(value: unknown): asserts value is SendOptions | undefined {
  if (isOptions(value, 'send')) assertFlag(value as Record<string, unknown>, 'delivered');
}

function assertFlag(options: Record<string, unknown>, name: string): void {
  const flag = options[name];
  if (flag !== undefined && typeof flag !== 'boolean') {
    throw new P2PError('ERR_INVALID_OPTION', `options.${name} must be a boolean, got ${describeValue(flag)}`);
  }
}

/** False for undefined (no options); true for an object; throws for anything else. */
function isOptions(value: unknown, what: string): value is object {
  if (value === undefined) return false;
  if (!isRecord(value)) {
    throw new P2PError('ERR_INVALID_OPTION', `${what} options must be an object, got ${describeValue(value)}`);
  }
  return true;
}
