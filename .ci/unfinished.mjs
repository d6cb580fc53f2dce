// Names the test files and tests of a vitest JSON report that did not pass, and the files missing
// from it: a worker that dies (a native crash) takes their names with it from vitest's own summary.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [report, dir = 'test'] = process.argv.slice(2);
const { testResults } = JSON.parse(readFileSync(report, 'utf8'));
const seen = new Map(testResults.map((file) => [basename(file.name), file]));
for (const file of testResults) {
  if (file.status !== 'passed') console.error(`not passed: ${basename(file.name)} (${file.status}) ${file.message ?? ''}`.trim());
  for (const test of file.assertionResults) {
    if (test.status !== 'passed') console.error(`  ${test.status}: ${basename(file.name)} > ${test.fullName}`);
  }
}
for (const name of readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
  if (!seen.has(name)) console.error(`no result (its worker died?): ${name}`);
}
