import { execFileSync } from 'node:child_process';

/** Builds dist/ once before any test file runs: the CLI and README tests execute the built package. */
export default function build(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
