import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Mosquitto } from './support/mosquitto.js';

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

  it('shows the file example exactly as examples/send-a-file.ts, which runs as written', async () => {
    const example = readFileSync('examples/send-a-file.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(`\`\`\`ts\n${example}\`\`\``);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/send-a-file.ts'], { timeout: 30_000 });
    expect(stdout).toContain('bob saved photo.jpg (5000000 bytes) in his inbox');
    expect(stdout).toMatch(/^alice sent 5000000 bytes, sha256 [0-9a-f]{16}…$/m);
  });

  it('shows the DHT example exactly as examples/find-by-topic.ts, which runs as written', async () => {
    const example = readFileSync('examples/find-by-topic.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(`\`\`\`ts\n${example}\`\`\``);
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/find-by-topic.ts'], { timeout: 60_000 });
    expect(stdout).toContain('carol found 2 nodes under chat/room-42');
    expect(stdout).toContain('carol connected to 2 of them without a server');
    expect(stdout).toContain("alice read dave's profile: dave, in room 42 (seq 1)");
  });

  it('shows the MQTT example exactly as examples/through-a-broker.ts, which runs as written against a real Mosquitto', async () => {
    const example = readFileSync('examples/through-a-broker.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(`\`\`\`ts\n${example}\`\`\``);
    const broker = await Mosquitto.start();
    try {
      const env = { ...process.env, MQTT_URL: broker.url('p2p-example') };
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/through-a-broker.ts'], { timeout: 30_000, env });
      expect(stdout).toMatch(/^bob got "no server of ours in between" from [0-9a-f]{8}$/m);
    } finally {
      await broker.close();
    }
  });
});
