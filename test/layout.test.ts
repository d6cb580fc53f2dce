/**
 * The layout of src/ as rules over its import graph: which side of the wire each folder serves, and so
 * what it may import. README's Architecture section states the same rules in prose.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSource, readSourceTree, type SourceFile } from './support/importGraph.js';

/** A folder of src/, or `leaf` for the shared files at its top that import nothing of ours. */
type Part = 'leaf' | 'entry' | 'wire' | 'webrtc' | 'dht' | 'data' | 'files' | 'services' | 'machines' | 'charts' | 'inspector' | 'node' | 'server' | 'cli' | 'browser' | 'web';

const ENTRY_FILES = ['src/index.ts', 'src/cli.ts', 'src/browser.ts'];
const LEAF_FILES = ['src/errors.ts', 'src/log.ts', 'src/url.ts', 'src/timers.ts'];
const ANYTHING = 'anything' as const;

/** What each part may import besides its own folder. Machines reach services only through `setup({ actors })`. */
const MAY_IMPORT: Record<Part, readonly Part[] | typeof ANYTHING> = {
  leaf: [],
  wire: ['leaf'],
  webrtc: ['wire', 'leaf'],
  dht: ['wire', 'leaf'],
  data: ['leaf'],
  /** File transfer: the file system at one end, the wire format at the other; no WebRTC, no machines. */
  files: ['wire', 'leaf'],
  services: ['wire', 'webrtc', 'dht', 'data', 'leaf'],
  machines: ['services', 'wire', 'webrtc', 'leaf'],
  charts: ['machines', 'leaf'],
  inspector: ['charts', 'machines', 'leaf'],
  node: ['machines', 'services', 'dht', 'wire', 'webrtc', 'data', 'files', 'inspector', 'leaf'],
  server: ['wire', 'leaf'],
  cli: ANYTHING,
  /** What only the browser build has: its Node globals, the identity in IndexedDB. */
  browser: ['wire', 'leaf'],
  /** The web app: a user of the browser entry, like the CLI of the Node one. */
  web: ['entry', 'leaf'],
  entry: ANYTHING,
};

/** Pure parts do no IO: the only packages they may import. */
const PURE_PACKAGES: Partial<Record<Part, readonly string[]>> = {
  leaf: [],
  wire: ['node:crypto', '@noble/ciphers', '@noble/curves', '@noble/hashes'],
  webrtc: [],
  dht: ['node:crypto'],
  data: ['rxjs'],
  machines: ['xstate'],
  charts: ['xstate', '@dagrejs/dagre'],
};

/** Packages only these parts or files may import, so each side loads only its own stack. */
const PACKAGE_OWNERS: Record<string, readonly string[]> = {
  'socket.io': ['server'],
  redis: ['src/server/cluster.ts'],
  'socket.io-client': ['src/services/socketClient.ts'],
  mqtt: ['src/services/mqttClient.ts'],
  'simple-peer': ['src/services/webrtcTransport.ts'],
  '@roamhq/wrtc': ['src/services/wrtc.ts'],
  /** Crypto goes through wire/crypto.ts (Node) and its browser twin; the server and inspector keep their own. */
  'node:crypto': ['src/wire/crypto.ts', 'server', 'inspector'],
  '@noble/ciphers': ['src/wire/crypto.browser.ts'],
  '@noble/curves': ['src/wire/crypto.browser.ts'],
  '@noble/hashes': ['src/wire/crypto.browser.ts'],
  buffer: ['src/browser/globals.ts'],
  process: ['src/browser/globals.ts'],
};

const MAX_LINES = 300;
/** Files allowed past {@link MAX_LINES}, each with the reason. */
const LONG_FILES: Record<string, string> = {
  'src/data/link.ts': 'PeerLink is one class whose packing, pacing, credit, heartbeat, receipts and end of stream share its private state',
  'src/machines/peerConnection.machine.ts': 'one statechart: its guards, actions and delays are typed by the setup() that holds them',
  'src/node/node.ts': 'the public facade: each P2PNode method is argument checks and one delegation, and its TSDoc is the API reference',
  'src/services/webrtcTransport.ts':
    'the one closure over a simple-peer connection: pinning, verification, stalls and ICE restarts read and change its private state',
};

function partOf(path: string): Part | undefined {
  if (ENTRY_FILES.includes(path)) return 'entry';
  if (LEAF_FILES.includes(path)) return 'leaf';
  const folder = /^src\/([^/]+)\//.exec(path)?.[1];
  return folder !== undefined && folder in MAY_IMPORT && folder !== 'leaf' && folder !== 'entry' ? (folder as Part) : undefined;
}

/** Every way `files` break the layout's rules, one line each; empty when they keep them. */
function layoutViolations(files: readonly SourceFile[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const part = partOf(file.path);
    if (part === undefined) {
      found.push(`${file.path}: in no part of the layout (add its folder to MAY_IMPORT and the README)`);
      continue;
    }
    if (file.lines > MAX_LINES && !(file.path in LONG_FILES)) {
      found.push(`${file.path}: ${file.lines} lines, over ${MAX_LINES} with no reason in LONG_FILES`);
    }
    for (const edge of file.imports) {
      const where = `${file.path}:${edge.line}`;
      if (edge.to.startsWith('src/')) {
        const target = partOf(edge.to);
        const allowed = MAY_IMPORT[part];
        if (target === undefined || target === part) continue;
        if (allowed !== ANYTHING && !allowed.includes(target)) found.push(`${where}: ${part}/ may not import ${edge.to}`);
        else if (part === 'machines' && target === 'services' && !edge.typeOnly) {
          const stray = edge.values.filter((name) => !file.setupActors.includes(name));
          if (stray.length > 0) found.push(`${where}: machines/ may take from services/ only types and setup({ actors }) logic, not ${stray.join(', ')}`);
        }
      } else if (!edge.typeOnly) {
        const pure: readonly string[] | undefined = PURE_PACKAGES[part];
        if (pure && !pure.includes(edge.to)) found.push(`${where}: ${part}/ is pure and may not import ${edge.to}`);
        const owners: readonly string[] | undefined = PACKAGE_OWNERS[edge.to];
        if (owners && !owners.includes(part) && !owners.includes(file.path)) found.push(`${where}: only ${owners.join(', ')} may import ${edge.to}`);
      }
    }
  }
  return found;
}

const tree = readSourceTree('.', 'src');

describe('the layout of src/', () => {
  it('keeps every import rule', () => {
    expect(layoutViolations(tree)).toEqual([]);
  });

  it('reads the imports the rules are about', () => {
    const node = tree.find((f) => f.path === 'src/node/node.ts')!;
    expect(node.imports.map((i) => i.to)).toContain('src/machines/node.machine.ts');
    // The lazily loaded modules count too.
    expect(tree.find((f) => f.path === 'src/node/inspection.ts')!.imports.filter((i) => !i.typeOnly).map((i) => i.to)).toEqual([
      'src/inspector/inspectorServer.ts',
      'src/inspector/charts.ts',
      'src/inspector/statelyInspector.ts',
    ]);
    const transport = tree.find((f) => f.path === 'src/services/webrtcTransport.ts')!;
    expect(transport.imports.map((i) => i.to)).toEqual(expect.arrayContaining(['simple-peer', 'src/services/wrtc.ts']));
    expect(tree.find((f) => f.path === 'src/services/wrtc.ts')!.imports.map((i) => i.to)).toContain('@roamhq/wrtc');
    expect(tree.find((f) => f.path === 'src/machines/peerConnection.machine.ts')!.setupActors).toEqual(['webrtcTransport']);
  });

  it('reports each kind of break', () => {
    const file = (path: string, text: string) => parseSource(path, text);
    expect(
      layoutViolations([
        file('src/node/a.ts', "import { createSignalingServer } from '../server/signalingServer.js';"),
        file('src/server/b.ts', "import type { NodeInput } from '../machines/node.machine.js';"),
        file('src/wire/c.ts', "import { P2PError } from '../errors.js';\nimport { createServer } from 'node:http';"),
        file('src/machines/d.ts', "import { socketClient, type SocketEvent } from '../services/socketClient.js';\nsetup({ actors: {} });"),
        file('src/data/e.ts', "const m = await import('socket.io-client');"),
        file('src/inspector/f.ts', "export { Server } from 'socket.io';"),
        file('src/extra/g.ts', ''),
        file('src/charts/h.ts', 'x;\n'.repeat(MAX_LINES + 1)),
      ]),
    ).toEqual([
      'src/node/a.ts:1: node/ may not import src/server/signalingServer.ts',
      'src/server/b.ts:1: server/ may not import src/machines/node.machine.ts',
      'src/wire/c.ts:2: wire/ is pure and may not import node:http',
      'src/machines/d.ts:1: machines/ may take from services/ only types and setup({ actors }) logic, not socketClient',
      'src/data/e.ts:1: data/ is pure and may not import socket.io-client',
      'src/data/e.ts:1: only src/services/socketClient.ts may import socket.io-client',
      'src/inspector/f.ts:1: only server may import socket.io',
      'src/extra/g.ts: in no part of the layout (add its folder to MAY_IMPORT and the README)',
      `src/charts/h.ts: ${MAX_LINES + 1} lines, over ${MAX_LINES} with no reason in LONG_FILES`,
    ]);
    expect(
      layoutViolations([
        file('src/machines/d.ts', "import { socketClient, type SocketEvent } from '../services/socketClient.js';\nsetup({ actors: { socket: socketClient } });"),
      ]),
    ).toEqual([]);
  });

  it('gives every browser twin (x.browser.ts) its Node file (x.ts), with the same exported values', () => {
    const exported = (path: string): string[] =>
      [...readFileSync(path, 'utf8').matchAll(/^export (?:async )?(?:function|const|class) (\w+)/gm)].map((m) => m[1]!).sort();
    const twins = tree.filter((f) => f.path.endsWith('.browser.ts'));
    expect(twins.map((f) => f.path)).toContain('src/wire/crypto.browser.ts');
    for (const twin of twins) {
      const original = twin.path.replace(/\.browser\.ts$/, '.ts');
      expect(tree.map((f) => f.path), `${twin.path} replaces nothing`).toContain(original);
      expect(exported(twin.path), twin.path).toEqual(exported(original));
    }
  });

  it('is drawn in the README: every folder and top-level file of src/ has its line', () => {
    const readme = readFileSync('README.md', 'utf8');
    const drawing = /## Architecture\n+```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const entries = new Set(tree.map((f) => (/^src\/[^/]+\//.exec(f.path)?.[0] ?? f.path).slice('src/'.length)));
    for (const entry of entries) expect(drawing, entry).toMatch(new RegExp(`^  ${entry.replace('.', '\\.')}\\s`, 'm'));
  });
});
