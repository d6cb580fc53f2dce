/**
 * An expected way for the CLI to fail: it prints `p2p-node: <message>` (no stack trace) and exits with
 * `exitCode` — 2 for a command line that cannot be run, 1 for a failure at startup.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** A usage error: bad flags, missing values, malformed ids or URLs (exit code 2). */
export function usageError(message: string): CliError {
  return new CliError(message, 2);
}
