import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderDiagrams } from '../src/charts/diagrams.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const expected = renderDiagrams();
const fix = 'run `npm run diagrams` and commit diagrams/';

describe('diagrams/', () => {
  it.each([...expected])('%s matches the machines', (path, contents) => {
    const file = join(root, path);
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    expect(committed, `${path} is out of date with the machine definitions: ${fix}`).toBe(contents);
  });

  it('has no diagram of a machine that no longer exists', () => {
    const committed = readdirSync(join(root, 'diagrams')).filter((name) => name.endsWith('.mmd'));
    const generated = [...expected.keys()].filter((path) => path.endsWith('.mmd')).map((path) => basename(path));
    expect(committed.sort(), `diagrams/ holds stale .mmd files: delete them and ${fix}`).toEqual(generated.sort());
  });
});
