/** The line-oriented console of a running node: slash commands, everything else is chat. */
import { createInterface, type Interface } from 'node:readline';
import { P2PError } from '../errors.js';
import type { P2PNode } from '../node/node.js';
import { interactiveHelp } from './help.js';
import { dhtSummary, formatError, formatRecord, peersTable, type Print } from './output.js';
import { filesTable, type TransferLog } from './transfers.js';

/** What the console acts on. */
export interface ConsoleSession {
  node: P2PNode;
  print: Print;
  /** Asks the CLI to stop the node and exit cleanly. */
  quit(): void;
  /** The last seq `/put` used per key. */
  seqs: Map<string, number>;
  /** Every file transfer of this run, for `/files`. */
  transfers: TransferLog;
}

/**
 * Reads commands from `input` line by line. Command errors print as `! CODE: message` and never end
 * the process; the end of `input` does not stop the node either, so it can run headless.
 */
export function startConsole(session: ConsoleSession, input: NodeJS.ReadableStream): Interface {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  lines.on('line', (line) => {
    runLine(session, line).catch((err: unknown) => session.print(`! ${formatError(err)}`));
  });
  return lines;
}

async function runLine(session: ConsoleSession, line: string): Promise<void> {
  const trimmed = line.trim();
  if (trimmed === '') return;
  if (trimmed.startsWith('//')) return broadcast(session, trimmed.slice(1));
  if (!trimmed.startsWith('/')) return broadcast(session, line);
  const [name, ...args] = trimmed.split(/\s+/);
  switch (name) {
    case '/connect':
      return session.node.connectToNode(argument(args, '/connect <id>'));
    case '/disconnect':
      return session.node.disconnect(knownPeer(session.node, argument(args, '/disconnect <id>')));
    case '/peers':
      return peersTable(session.node.peers()).forEach(session.print);
    case '/join':
      connectUnderTopics(session.node, session.print);
      return joinTopic(session.node, argument(args, '/join <topic>'), session.print);
    case '/lookup': {
      const ids = await session.node.lookup(argument(args, '/lookup <topic>'));
      return session.print(ids.length === 0 ? '* nobody announced there' : ids.map((id) => `  ${id}`).join('\n'));
    }
    case '/put': {
      const [key, ...value] = args;
      if (key === undefined || value.length === 0) throw new P2PError('ERR_INVALID_OPTION', 'usage: /put <key> <value>');
      const seq = nextSeq(session, key);
      await session.node.put({ key, value: value.join(' '), seq });
      return session.print(`* stored ${key} (seq ${seq})`);
    }
    case '/get': {
      if (args.length !== 2) throw new P2PError('ERR_INVALID_OPTION', 'usage: /get <id> <key>');
      const got = await session.node.get(args[0]!, args[1]!);
      return session.print(got ? formatRecord(args[1]!, got.value, got.seq) : `* nothing stored under that key`);
    }
    case '/send': {
      const [prefix, ...path] = args;
      if (prefix === undefined || path.length === 0) throw new P2PError('ERR_INVALID_OPTION', 'usage: /send <id> <path>');
      const peer = knownPeer(session.node, prefix);
      // In the background: the console stays usable while the file goes; progress lines follow.
      session.node.sendFile(peer, path.join(' ')).catch((err: unknown) => session.print(`! ${formatError(err)}`));
      return;
    }
    case '/files':
      return filesTable(session.transfers).forEach(session.print);
    case '/dht':
      return dhtSummary(session.node).forEach(session.print);
    case '/quit':
      return session.quit();
    case '/help':
      return interactiveHelp().forEach(session.print);
    default:
      session.print(`! unknown command ${name}; /help lists them`);
  }
}

/** Joins `topic` in the background, printing the outcome. */
export function joinTopic(node: P2PNode, topic: string, print: Print): void {
  node.join(topic).then(
    () => print(`* joined ${topic}`),
    (err: unknown) => print(`! ${formatError(err)}`),
  );
}

const connecting = new WeakSet<P2PNode>();

/** Connects to every node found under a joined topic, once per node (so typing the same word is enough). */
export function connectUnderTopics(node: P2PNode, print: Print): void {
  if (connecting.has(node)) return;
  connecting.add(node);
  node.discover$.subscribe({
    next: ({ topic, id }) => {
      print(`* found ${id.slice(0, 8)} under ${topic}`);
      node.connectToNode(id).catch((err: unknown) => print(`! ${formatError(err)}`));
    },
    error: (err: unknown) => print(`! ${formatError(err)}`),
  });
}

/** Sequence numbers for `/put`: above what this node last stored under the key (in this run) or found in the DHT. */
function nextSeq(session: ConsoleSession, key: string): number {
  const seq = (session.seqs.get(key) ?? Date.now()) + 1;
  session.seqs.set(key, seq);
  return seq;
}

async function broadcast(session: ConsoleSession, text: string): Promise<void> {
  try {
    await session.node.sendData(text);
  } catch (err) {
    if (!(err instanceof P2PError && err.code === 'ERR_NO_PEERS')) throw err;
    session.print('! no connected peers');
  }
}

function argument(args: string[], usage: string): string {
  if (args.length !== 1) throw new P2PError('ERR_INVALID_OPTION', `usage: ${usage}`);
  return args[0]!;
}

/** The one peer whose id starts with `prefix`, so the 8-digit ids the console prints can be typed back. */
function knownPeer(node: P2PNode, prefix: string): string {
  const matches = node.peers().filter((p) => p.id.startsWith(prefix.toLowerCase()));
  if (matches.length === 1) return matches[0]!.id;
  const why = matches.length === 0 ? 'no peer' : 'several peers';
  throw new P2PError('ERR_NOT_CONNECTED', `${why} with an id starting ${JSON.stringify(prefix)}`);
}
