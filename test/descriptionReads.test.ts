import { describe, expect, it } from 'vitest';
import { withoutDescriptionReads } from '../src/services/descriptionReads.js';

/** Stands in for wrtc's native class: its description getters are what must never be reached. */
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

describe('withoutDescriptionReads', () => {
  it('reports no local description and only the remote type, once applied, without reading either', async () => {
    const wrtc = withoutDescriptionReads({ RTCPeerConnection: NativePeerConnection, RTCIceCandidate: 'kept' });
    const pc = new wrtc.RTCPeerConnection() as unknown as NativePeerConnection & { localDescription: unknown; remoteDescription: unknown };
    expect(wrtc.RTCIceCandidate).toBe('kept');
    expect(pc.localDescription).toBeNull();
    expect(pc.remoteDescription).toBeNull();
    const applying = pc.setRemoteDescription({ type: 'offer', sdp: 'v=0' } as { type: string });
    expect(pc.remoteDescription).toBeNull();
    await applying;
    expect(pc.remoteDescription).toEqual({ type: 'offer' });
    expect(pc.applied).toEqual(['offer']);
  });
});
