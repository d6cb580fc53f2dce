/**
 * Named lists of public STUN servers, for `--stun-preset` and `iceServers`. None is used unless asked:
 * a node contacts nothing on the internet by default.
 */
import { P2PError } from '../errors.js';

/**
 * STUN servers by region. `cn`: operated in mainland China and reported reachable from there (by the
 * operators' own apps and by public lists of working STUN servers), where Google's STUN servers are
 * blocked. Reachability from China is not tested here: this machine reaches no internet.
 *
 * @example
 * ```ts
 * createNode({ signalingUrl, iceServers: [{ urls: [...STUN_PRESETS.cn] }] });
 * ```
 */
export const STUN_PRESETS = {
  cn: ['stun:stun.miwifi.com:3478', 'stun:stun.chat.bilibili.com:3478', 'stun:stun.hitv.com:3478'],
} as const satisfies Record<string, readonly string[]>;

/** The URLs of preset `name`; throws P2PError ERR_INVALID_OPTION for a name that is not one. */
export function stunPreset(name: string): string[] {
  if (!Object.hasOwn(STUN_PRESETS, name)) {
    throw new P2PError('ERR_INVALID_OPTION', `no STUN preset ${JSON.stringify(String(name).slice(0, 40))}; known: ${Object.keys(STUN_PRESETS).join(', ')}`);
  }
  return [...STUN_PRESETS[name as keyof typeof STUN_PRESETS]];
}
