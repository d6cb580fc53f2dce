/**
 * The ICE flags of the command line: `--stun`, `--stun-preset`, `--turn` with static credentials or
 * with the embedded server's shared secret, each with its environment fallback.
 */
import { P2PError } from '../errors.js';
import { stunPreset } from '../node/stunPresets.js';
import type { TurnRestOptions } from '../server/turnCredentials.js';
import type { IceServer } from '../services/webrtcTransport.js';
import { hasScheme } from '../url.js';
import { isTurnUrl } from '../wire/protocol.js';
import { usageError } from './errors.js';

/** Comma-separated list from the environment, the fallback for a repeatable flag. */
function envList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const URL_FORMS = {
  stun: { valid: (url: string) => hasScheme(url, ['stun:', 'stuns:']), form: 'stun: or stuns:' },
  // As strict as the check on relays a signaling server hands out: libwebrtc refuses a connection over one bad URL.
  turn: { valid: isTurnUrl, form: 'turn:HOST[:PORT][?transport=udp|tcp] or turns:…' },
};

function urls(flag: keyof typeof URL_FORMS, given: string[] | undefined, fromEnv: string | undefined): string[] {
  const list = given ?? envList(fromEnv);
  const { valid, form } = URL_FORMS[flag];
  for (const url of list) {
    if (!valid(url)) throw usageError(`--${flag} URL must be ${form}; got ${JSON.stringify(url)}`);
  }
  return list;
}

interface TurnRestValues {
  turn?: string[];
  'turn-secret'?: string;
}

/** `--turn` with `--turn-secret`: a relay the signaling server issues credentials for (coturn `use-auth-secret`). */
export function turnRest(values: TurnRestValues, env: NodeJS.ProcessEnv): TurnRestOptions | undefined {
  if (values['turn-secret'] === '') throw usageError('--turn-secret must not be empty');
  const secret = values['turn-secret'] ?? (env.P2P_TURN_SECRET || undefined);
  if (secret === undefined) return undefined;
  const turn = urls('turn', values.turn, env.P2P_TURN);
  if (turn.length > 0) return { urls: turn, secret };
  // Only the flag counts here: a secret exported in the environment may serve other tools.
  if (values['turn-secret'] !== undefined) throw usageError('--turn-secret needs --turn');
  return undefined;
}

interface IceValues extends TurnRestValues {
  stun?: string[];
  'stun-preset'?: string;
  'turn-user'?: string;
  'turn-pass'?: string;
}

export function iceServers(values: IceValues, env: NodeJS.ProcessEnv, issued: TurnRestOptions | undefined): IceServer[] {
  const stun = [...presetUrls(values['stun-preset'] ?? (env.P2P_STUN_PRESET || undefined)), ...urls('stun', values.stun, env.P2P_STUN)];
  const servers: IceServer[] = stun.length ? [{ urls: stun }] : [];
  // The embedded server hands this node its TURN credentials at registration, as it does every other node.
  if (issued) return servers;
  const turn = urls('turn', values.turn, env.P2P_TURN);
  const username = values['turn-user'] ?? (env.P2P_TURN_USER || undefined);
  const credential = values['turn-pass'] ?? (env.P2P_TURN_PASS || undefined);
  if (turn.length === 0) {
    // Only the flags count here: credentials exported in the environment may serve other tools.
    if (values['turn-user'] !== undefined || values['turn-pass'] !== undefined) {
      throw usageError('--turn-user and --turn-pass need --turn');
    }
    return servers;
  }
  if (username === undefined || credential === undefined) throw usageError('--turn needs --turn-user and --turn-pass');
  return [...servers, { urls: turn, username, credential }];
}

/** The STUN URLs of `--stun-preset NAME` (none without it). */
function presetUrls(name: string | undefined): string[] {
  if (name === undefined) return [];
  try {
    return stunPreset(name);
  } catch (err) {
    throw err instanceof P2PError ? usageError(`--stun-preset: ${err.message}`) : err;
  }
}
