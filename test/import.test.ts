import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** Open handles and loaded native objects of a fresh process, after running `setup`. */
async function footprint(setup: string) {
  const probe = `
    ${setup}
    process.stderr; // stdio handles open lazily: open them in both probes
    await new Promise((resolve) => setTimeout(resolve, 50)); // let module loading's own file reads finish
    const handles = process.getActiveResourcesInfo().sort();
    const native = process.report.getReport().sharedObjects.filter((o) => /wrtc/.test(o));
    process.stderr.write(JSON.stringify({ handles, native }));
  `;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', probe], { timeout: 20_000 });
  return { stdout, ...(JSON.parse(stderr) as { handles: string[]; native: string[] }) };
}

describe('importing the package', () => {
  it('prints nothing, opens nothing and does not load the native WebRTC binding', async () => {
    const baseline = await footprint('');
    const imported = await footprint(`const lib = await import('p2p-dht-node'); if (!lib.createNode) throw new Error('no API');`);
    expect(imported.stdout).toBe('');
    expect(imported.handles).toEqual(baseline.handles);
    expect(imported.native).toEqual([]);
  });
});
