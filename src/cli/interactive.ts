/** The line-oriented console of a running node: slash commands, everything else is chat. */
import { createInterface, type Interface } from 'node:readline';
import { P2PError } from '../errors.js';
import type { P2PNode } from '../node/node.js';
import { interactiveHelp } from './help.js';
import { formatError, peersTable, type Print } from './output.js';

/** What the console acts on. */
export interface ConsoleSession {
  node: P2PNode;
  print: Print;
  /** Asks the CLI to stop the node and exit cleanly. */
  quit(): void;
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
    case '/quit':
      return session.quit();
    case '/help':
      return interactiveHelp().forEach(session.print);
    default:
      session.print(`! unknown command ${name}; /help lists them`);
  }
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
