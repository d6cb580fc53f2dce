import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/args.js';
import { STUN_PRESETS } from '../src/index.js';

const ID = 'a'.repeat(64);
const env = { XDG_CONFIG_HOME: '/cfg' };

describe('command line parsing', () => {
  it('runs a node with an embedded server on loopback by default', () => {
    expect(parseCommandLine([], env)).toMatchObject({
      command: 'start',
      signalingUrls: undefined,
      host: '127.0.0.1',
      port: 0,
      connect: [],
      identityFile: '/cfg/p2p-dht-node/identity.pem',
      iceServers: [],
      loopbackOnly: false,
      logLevel: 'warn',
      inspectPort: undefined,
      stately: false,
    });
  });

  it('takes --inspect with or without a port, and --stately', () => {
    expect(parseCommandLine(['--inspect'], env)).toMatchObject({ inspectPort: 8088 });
    expect(parseCommandLine(['--inspect', '--loopback-only'], env)).toMatchObject({ inspectPort: 8088, loopbackOnly: true });
    expect(parseCommandLine(['--inspect', '9000', '--stately'], env)).toMatchObject({ inspectPort: 9000, stately: true });
    expect(parseCommandLine(['--inspect=0'], env)).toMatchObject({ inspectPort: 0 });
  });

  it('takes the remote server from SIGNALING_SERVER_URL, and --signal over it', () => {
    expect(parseCommandLine([], { ...env, SIGNALING_SERVER_URL: 'http://10.0.0.1:8080' })).toMatchObject({ signalingUrls: ['http://10.0.0.1:8080'] });
    expect(parseCommandLine(['--signal', 'http://127.0.0.1:1'], { ...env, SIGNALING_SERVER_URL: 'http://x:1' })).toMatchObject({ signalingUrls: ['http://127.0.0.1:1'] });
  });

  it('takes a comma-separated list of servers to fail over between, each checked', () => {
    expect(parseCommandLine(['--signal', 'http://a:1, https://b:2,ws://c:3'], env)).toMatchObject({ signalingUrls: ['http://a:1', 'https://b:2', 'ws://c:3'] });
    expect(parseCommandLine([], { ...env, SIGNALING_SERVER_URL: 'http://a:1,http://b:2' })).toMatchObject({ signalingUrls: ['http://a:1', 'http://b:2'] });
    expect(() => parseCommandLine(['--signal', 'http://a:1,'], env)).toThrow(/http\(s\):\/\/, ws\(s\):\/\/ or mqtt\(s\):\/\/; got ""/);
    expect(() => parseCommandLine(['--signal', 'http://a:1,ftp://b'], env)).toThrow(/got "ftp:\/\/b"/);
    expect(() => parseCommandLine(['--signal', Array.from({ length: 17 }, (_, i) => `http://s${i}:1`).join(',')], env)).toThrow(/at most 16/);
  });

  it('takes MQTT brokers among the servers, from the flag or the environment, and refuses a prefix MQTT cannot carry', () => {
    const urls = ['http://a:1', 'mqtt://b:1883/chat/v2', 'mqtts://c/x', 'wss://d/mqtt?prefix=y'];
    expect(parseCommandLine(['--signal', urls.join(',')], env)).toMatchObject({ signalingUrls: urls });
    expect(parseCommandLine([], { ...env, SIGNALING_SERVER_URL: 'mqtt://b:1883/chat' })).toMatchObject({ signalingUrls: ['mqtt://b:1883/chat'] });
    for (const bad of ['mqtt://b/chat/+', 'mqtt://b/a//b', 'ws://d/mqtt?prefix=%23', `mqtt://b/${'x'.repeat(129)}`]) {
      expect(() => parseCommandLine(['--signal', bad], env)).toThrow(/MQTT topic prefix/);
    }
  });

  it('adds a named STUN preset (cn: servers in mainland China) before --stun URLs, and refuses unknown names', () => {
    expect(parseCommandLine(['--stun-preset', 'cn', '--stun', 'stun:a:3478'], env)).toMatchObject({
      iceServers: [{ urls: [...STUN_PRESETS.cn, 'stun:a:3478'] }],
    });
    expect(parseCommandLine([], { ...env, P2P_STUN_PRESET: 'cn' })).toMatchObject({ iceServers: [{ urls: [...STUN_PRESETS.cn] }] });
    expect(STUN_PRESETS.cn).toContain('stun:stun.miwifi.com:3478');
    expect(parseCommandLine([], env)).toMatchObject({ iceServers: [] });
    expect(() => parseCommandLine(['--stun-preset', 'google'], env)).toThrow(/--stun-preset: no STUN preset "google"; known: cn/);
    expect(() => parseCommandLine(['--stun-preset', '__proto__'], env)).toThrow(/no STUN preset/);
  });

  it('builds ICE servers from flags, or from the environment when no flag is given', () => {
    const flags = parseCommandLine(
      ['--stun', 'stun:a:3478', '--stun', 'stun:b:3478', '--turn', 'turn:t:3478', '--turn-user', 'u', '--turn-pass', 'p'],
      env,
    );
    expect(flags).toMatchObject({
      iceServers: [{ urls: ['stun:a:3478', 'stun:b:3478'] }, { urls: ['turn:t:3478'], username: 'u', credential: 'p' }],
    });
    const fromEnv = parseCommandLine([], { ...env, P2P_STUN: 'stun:a:1,stun:b:2', P2P_TURN: 'turn:t:1', P2P_TURN_USER: 'u', P2P_TURN_PASS: 'p' });
    expect(fromEnv).toMatchObject({
      iceServers: [{ urls: ['stun:a:1', 'stun:b:2'] }, { urls: ['turn:t:1'], username: 'u', credential: 'p' }],
    });
  });

  it('has the embedded server issue TURN credentials with --turn-secret, and the standalone one too', () => {
    const turn = { urls: ['turn:t:3478'], secret: 's3cret' };
    expect(parseCommandLine(['--stun', 'stun:a:1', '--turn', 'turn:t:3478', '--turn-secret', 's3cret'], env)).toMatchObject({
      iceServers: [{ urls: ['stun:a:1'] }],
      turn,
    });
    expect(parseCommandLine(['signal', '--turn', 'turn:t:3478', '--turn-secret', 's3cret'], env)).toMatchObject({ command: 'signal', turn });
    const fromEnv = { ...env, P2P_TURN: 'turn:t:3478', P2P_TURN_SECRET: 's3cret' };
    expect(parseCommandLine(['signal'], fromEnv)).toMatchObject({ turn });
    expect(parseCommandLine([], fromEnv)).toMatchObject({ iceServers: [], turn });
    expect(parseCommandLine(['signal'], env)).toMatchObject({ turn: undefined });
  });

  it('leaves a secret in the environment alone where it does not apply', () => {
    const lab = { ...env, P2P_TURN_SECRET: 's3cret' };
    expect(parseCommandLine([], lab)).toMatchObject({ iceServers: [], turn: undefined });
    expect(parseCommandLine(['signal'], lab)).toMatchObject({ turn: undefined });
    // A remote server issues its own credentials; static ones given as flags win over the secret.
    const withRelay = { ...lab, P2P_TURN: 'turn:t:1' };
    const staticTurn = { urls: ['turn:t:1'], username: 'u', credential: 'p' };
    const remote = parseCommandLine(['--signal', 'http://10.0.0.1:8080', '--turn-user', 'u', '--turn-pass', 'p'], withRelay);
    expect(remote).toMatchObject({ iceServers: [staticTurn], turn: undefined });
    expect(parseCommandLine(['--turn-user', 'u', '--turn-pass', 'p'], withRelay)).toMatchObject({ iceServers: [staticTurn], turn: undefined });
  });

  it('refuses what cannot work, with a usage error (exit code 2)', () => {
    const bad = [
      ['--turn', 'turn:t:1'],
      ['--turn-user', 'u', '--turn-pass', 'p'],
      ['--turn', 'turn:t:0', '--turn-user', 'u', '--turn-pass', 'p'],
      ['--turn-secret', 's'],
      ['--turn', 'turn:t:1', '--turn-secret', ''],
      ['--turn', 'turn:t:1', '--turn-secret', 's', '--turn-user', 'u', '--turn-pass', 'p'],
      ['--turn', 'turn:t:1', '--turn-secret', 's', '--turn-pass', 'p'],
      ['--signal', 'http://127.0.0.1:1', '--turn', 'turn:t:1', '--turn-secret', 's'],
      ['signal', '--turn', 'turn:t:1'],
      ['signal', '--turn-secret', 's'],
      ['signal', '--turn', 'stun:t:1', '--turn-secret', 's'],
      ['--connect', 'nothex'],
      ['--signal', 'not a url'],
      ['--signal', 'http://127.0.0.1:1', '--port', '9'],
      ['--port', '70000'],
      ['--inspect=http'],
      ['--inspect', '70000'],
      ['--log-level', 'loud'],
      ['--nope'],
      ['signal', '--connect', ID],
    ];
    for (const argv of bad) {
      expect(() => parseCommandLine(argv, env), argv.join(' ')).toThrowError(expect.objectContaining({ exitCode: 2 }) as Error);
    }
  });

  it('parses the standalone server command, on port 8080 by default', () => {
    expect(parseCommandLine(['signal'], env)).toMatchObject({ command: 'signal', port: 8080, host: '127.0.0.1', redis: undefined });
    expect(parseCommandLine(['signal', '--redis', 'redis://127.0.0.1:6379'], env)).toMatchObject({ redis: 'redis://127.0.0.1:6379' });
    expect(parseCommandLine(['signal'], { ...env, P2P_REDIS: 'rediss://r:6380' })).toMatchObject({ redis: 'rediss://r:6380' });
    expect(() => parseCommandLine(['signal', '--redis', 'http://r:6379'], env)).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(parseCommandLine(['signal', '--port', '8080', '--host', '0.0.0.0'], env)).toMatchObject({ command: 'signal', port: 8080, host: '0.0.0.0' });
  });
});
