/** Writes `diagrams/` from the machine definitions: `npm run diagrams`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDiagrams } from '../src/charts/diagrams.js';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const [path, contents] of renderDiagrams()) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), contents);
  console.log(`wrote ${path}`);
}
