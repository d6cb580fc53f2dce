import { execFileSync } from 'node:child_process';

/**
 * Builds dist/ once before any test file runs (`npm run build`: the Node package, the browser
 * bundle and the web app): the CLI, README and browser tests execute what was built.
 */
export default function build(): void {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
