import { describe, expect, it } from 'vitest';
import { withoutDescriptionReads } from '../src/services/descriptionReads.js';

/** Stands in for wrtc's native object: its description getters are what must never be reached. */
class NativePeerConnection {
  applied: string[] = [];
  get localDescription(): never {
    throw new Error('serialized the local description');
  }
  get remoteDescription(): never {
    throw new Error('serialized the remote description');
  }
  async setRemoteDescription(description: { type: string }): Promise<void> {
    this.applied.push(description.type);
  }
}

/** Shaped like wrtc's JS RTCPeerConnection: per-instance getters that read the native object in `_pc`. */
function WrappedPeerConnection(this: Record<string, unknown>): void {
  const pc = new NativePeerConnection();
  Object.defineProperties(this, {
    _pc: { value: pc },
    localDescription: { get: () => (pc.localDescription ? { ...(pc.localDescription as object) } : null), enumerable: true },
    remoteDescription: { get: () => (pc.remoteDescription ? { ...(pc.remoteDescription as object) } : null), enumerable: true },
  });
}
WrappedPeerConnection.prototype.setRemoteDescription = function (this: { _pc: NativePeerConnection }, description: { type: string }) {
  return this._pc.setRemoteDescription(description);
};

describe('withoutDescriptionReads', () => {
  it('reports no local description and only the remote type, once applied, without reading either natively', async () => {
    const wrtc = withoutDescriptionReads({ RTCPeerConnection: WrappedPeerConnection as never, RTCIceCandidate: 'kept' });
    const pc = new wrtc.RTCPeerConnection() as unknown as { localDescription: unknown; remoteDescription: unknown; _pc: NativePeerConnection };
    expect(wrtc.RTCIceCandidate).toBe('kept');
    expect(pc.localDescription).toBeNull();
    expect(pc.remoteDescription).toBeNull();
    const applying = (pc as unknown as InstanceType<typeof wrtc.RTCPeerConnection>).setRemoteDescription({ type: 'offer', sdp: 'v=0' });
    expect(pc.remoteDescription).toBeNull();
    await applying;
    expect(pc.remoteDescription).toEqual({ type: 'offer' });
    expect(pc._pc.applied).toEqual(['offer']);
  });

});
