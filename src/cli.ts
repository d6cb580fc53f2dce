#!/usr/bin/env node
/**
 * `p2p-node`: runs a node with an interactive console (`p2p-node [start]`) or a standalone signaling
 * server (`p2p-node signal`). Human output goes to stdout, JSON logs to stderr. Exit codes: 0 clean
 * stop, 1 startup failure, 2 bad usage. `--help` has the details.
 */
import { pino } from 'pino';
import { parseCommandLine, type Command, type LogLevel } from './cli/args.js';
import { CliError } from './cli/errors.js';
import { usage, version } from './cli/help.js';
import { runNode, runSignal } from './cli/run.js';
import { P2PError } from './errors.js';
import type { Logger } from './log.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function logger(level: LogLevel): Logger {
  return pino({ level }, pino.destination(2));
}

async function run(command: Command): Promise<void> {
  switch (command.command) {
    case 'help':
      return print(usage(command.topic));
    case 'version':
      return print(version());
    case 'signal':
      return runSignal(command, logger(command.logLevel), print);
    case 'start':
      return runNode(command, logger(command.logLevel), print);
  }
}

/** Explains a failure in one line on stderr and picks the exit code. */
function report(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`p2p-node: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof P2PError) {
    process.stderr.write(`p2p-node: ${err.code}: ${err.message}\n`);
    return 1;
  }
  // Not an expected failure but a bug, and a bug report needs the stack.
  process.stderr.write(`p2p-node: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
  return 1;
}

/**
 * Exits explicitly once stdout has drained, instead of letting the event loop run dry: at a natural
 * exit Node finalizes wrtc's native objects, which crashed libwebrtc under load (a V8 fatal error in
 * an N-API finalizer); `process.exit` skips that teardown. pino flushes its own stream on exit.
 */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

async function main(): Promise<number> {
  try {
    await run(parseCommandLine(process.argv.slice(2), process.env));
    return 0;
  } catch (err) {
    return report(err);
  }
}

void main().then(exit);
