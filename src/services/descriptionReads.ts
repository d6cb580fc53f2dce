/**
 * A wrtc module whose RTCPeerConnection never serializes a session description on the JS thread.
 *
 * Reading `localDescription` or `remoteDescription` makes wrtc serialize libwebrtc's description
 * while libwebrtc's signaling thread may be adding ICE candidates to it. That race killed test
 * workers with SIGSEGV in `webrtc::SdpSerialize`, called from the `localDescription` getter that
 * simple-peer reads right after `setLocalDescription` (core dumps of this project's soak runs; the
 * same crash is simple-peer#812). simple-peer needs no more than the remote description's type, and
 * sends the SDP it created when `localDescription` is null; the candidates libwebrtc would have added
 * to it reach the peer through OutgoingSignals instead.
 *
 * wrtc's JS RTCPeerConnection defines its description getters on each instance, reading the native
 * object it keeps as `_pc`; so the guard shadows the getters of that native object.
 */

interface PeerConnectionClass {
  new (config?: unknown): {
    setRemoteDescription(description: { type: string; sdp?: string }): Promise<void>;
  };
}

/** The parts of the wrtc module that simple-peer uses. */
export interface WrtcModule {
  RTCPeerConnection: PeerConnectionClass;
  [name: string]: unknown;
}

/**
 * `wrtc` with an RTCPeerConnection that reports no local description and only the type of the remote one.
 *
 * @example
 * ```ts
 * new SimplePeer({ wrtc: withoutDescriptionReads(require('@roamhq/wrtc')), initiator: true });
 * ```
 */
export function withoutDescriptionReads(wrtc: WrtcModule): WrtcModule {
  class GuardedPeerConnection extends wrtc.RTCPeerConnection {
    #remoteType: string | undefined;

    constructor(config?: unknown) {
      super(config);
      const native = (this as unknown as { _pc: object })._pc;
      Object.defineProperties(native, {
        localDescription: { get: () => null },
        remoteDescription: { get: () => (this.#remoteType === undefined ? null : { type: this.#remoteType }) },
      });
    }

    override async setRemoteDescription(description: { type: string; sdp?: string }): Promise<void> {
      await super.setRemoteDescription(description);
      this.#remoteType = description.type;
    }
  }
  return { ...wrtc, RTCPeerConnection: GuardedPeerConnection };
}
