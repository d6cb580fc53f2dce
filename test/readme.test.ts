import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('README', () => {
  it('shows the library example exactly as examples/two-nodes.ts, which runs as written', async () => {
    const example = readFileSync('examples/two-nodes.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(`\`\`\`ts\n${example}\`\`\``);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/two-nodes.ts'], { timeout: 30_000 });
    expect(stdout).toContain('verifying → connected');
    expect(stdout).toContain('bob got hello, bob from');
    expect(stdout).toContain('bob got 3 bytes from');
  });
});
