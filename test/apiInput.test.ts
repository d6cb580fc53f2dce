/**
 * Any argument, of any shape, given to the public API: only coded P2PErrors come out, nothing is
 * thrown past a promise, and the node keeps working for the peers it has.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  P2PError,
  createNode,
  createSignalingServer,
  defaultIdentityPath,
  generateIdentity,
  identityFromPem,
  loadOrCreateIdentity,
  nodeIdOf,
  type P2PNode,
} from '../src/index.js';
import { Harness, next } from './helpers.js';

/** Settles `call` (sync or async) and fails unless it returned or failed with a coded P2PError. */
async function onlyCodedErrors(call: () => unknown): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (!(err instanceof P2PError) || !ERROR_CODES.includes(err.code)) {
      throw new Error(`not a coded P2PError: ${String(err)}`, { cause: err });
    }
  }
}

/** Mostly garbage, sometimes the shapes the API really takes. */
const anyArgument = fc.oneof(
  fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }),
  fc.string(),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex')),
);

describe('the public API, given any arguments', () => {
  const harness = new Harness();
  let a: P2PNode;
  let b: P2PNode;
  afterAll(() => harness.cleanup());
  beforeAll(async () => {
    const server = await harness.server();
    a = await harness.started(server.url, { timeouts: { offer: 2000, ice: 2000 } });
    b = await harness.started(server.url);
  });

  it('node methods resolve or reject with a coded error, and the node still connects and delivers', async () => {
    const target = fc.oneof(anyArgument, fc.constantFrom(() => b.nodeId, () => a.nodeId, () => generateIdentity().nodeId).map((f) => f()));
    const call = fc.oneof(
      fc.tuple(fc.constant('connectToNode' as const), target, fc.oneof(fc.constant(undefined), anyArgument), fc.constant(undefined)),
      fc.tuple(fc.constant('send' as const), target, anyArgument, fc.oneof(fc.constant(undefined), fc.record({ delivered: fc.boolean() }), anyArgument)),
      fc.tuple(fc.constant('sendData' as const), anyArgument, fc.constant(undefined), fc.constant(undefined)),
      fc.tuple(fc.constant('disconnect' as const), target, fc.oneof(fc.constant(undefined), anyArgument), fc.constant(undefined)),
    );
    await fc.assert(
      fc.asyncProperty(call, async ([method, first, second, third]) => {
        const api = a as unknown as Record<string, (x: unknown, y: unknown, z: unknown) => Promise<void>>;
        await onlyCodedErrors(() => api[method]!.call(a, first, second, third));
      }),
      { numRuns: 150 },
    );
    await a.connectToNode(b.nodeId);
    const received = next(b.data$, (m) => m.data === 'still working');
    await a.send(b.nodeId, 'still working');
    expect((await received).from).toBe(a.nodeId);
  });

  it('names the wrong argument with its own code', async () => {
    await expect(a.connectToNode(undefined as never)).rejects.toMatchObject({ code: 'ERR_INVALID_NODE_ID' });
    await expect(a.send({} as never, 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_NODE_ID' });
    await expect(a.send('zz', 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_NODE_ID' });
    await expect(a.disconnect('zz')).rejects.toMatchObject({ code: 'ERR_INVALID_NODE_ID' });
    await expect(a.send(b.nodeId, 5 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_DATA' });
    await expect(a.connectToNode(b.nodeId, { signal: 'soon' } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(() => createNode(undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => createNode(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    await expect(createSignalingServer(null as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(() => loadOrCreateIdentity(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_IDENTITY' }));
    expect(() => nodeIdOf(undefined as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_DATA' }));
  });

  it('createNode, createSignalingServer and the identity functions take any options with a coded error', async () => {
    const nodeOptions = fc.oneof(
      anyArgument,
      fc.record(
        {
          signalingUrl: fc.oneof(anyArgument, fc.constant('http://127.0.0.1:1')),
          iceServers: anyArgument,
          identity: anyArgument,
          timeouts: anyArgument,
          logger: anyArgument,
          maxPeers: anyArgument,
          maxNegotiations: anyArgument,
          maxMessageSize: anyArgument,
          candidateFilter: anyArgument,
          backoff: anyArgument,
          signalingAttempts: anyArgument,
          inspect: anyArgument,
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(nodeOptions, async (options) => {
        // Never started: nothing reaches the network.
        await onlyCodedErrors(() => createNode(options as never).stop());
      }),
      { numRuns: 300 },
    );
    // The listening address stays on loopback with a free port; everything else is any shape.
    const serverOptions = fc.oneof(
      fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.array(fc.anything())),
      fc.record(
        {
          registerTimeoutMs: anyArgument,
          maxPayloadBytes: anyArgument,
          rateLimit: anyArgument,
          nodeRateLimit: anyArgument,
          maxConnectionsPerAddress: anyArgument,
          handshakeRateLimit: anyArgument,
          maxIdleBuckets: anyArgument,
          serverId: anyArgument,
          redis: fc.oneof(anyArgument.filter((v) => typeof v !== 'string'), fc.constant('http://not-redis')),
          turn: anyArgument,
          logger: anyArgument,
        },
        { requiredKeys: [] },
      ).map((o) => ({ ...o, host: '127.0.0.1', port: 0 })),
    );
    await fc.assert(
      fc.asyncProperty(serverOptions, async (options) => {
        await onlyCodedErrors(async () => (await createSignalingServer(options as never)).close());
      }),
      { numRuns: 100 },
    );
    await fc.assert(
      fc.asyncProperty(anyArgument, async (value) => {
        await onlyCodedErrors(() => identityFromPem(value as never));
        await onlyCodedErrors(() => nodeIdOf(value as never));
        await onlyCodedErrors(() => defaultIdentityPath(value as never));
        if (typeof value !== 'string') await onlyCodedErrors(() => loadOrCreateIdentity(value as never));
      }),
      { numRuns: 200 },
    );
  });
});
