/**
 * `npm run sim:dht`: the DHT simulation at full size, printed as the README's table.
 * `--nodes 1000,10000` and `--seed N` change the sizes and the seed.
 */
import { runScenario, type ScenarioName } from './scenario.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const sizes = option('nodes', '1000,10000').split(',').map(Number);
const seed = Number(option('seed', '1'));
const scenarios = option('scenarios', 'steady,churn,adversarial').split(',') as ScenarioName[];

console.log('| nodes | scenario | lookup success | hops p50 / p99 | time p50 / p99 | messages / lookup | topic lookups complete | contacts / node | wall |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const nodes of sizes) {
  for (const scenario of scenarios) {
    const started = performance.now();
    const r = runScenario({ nodes, scenario, seed });
    const wall = ((performance.now() - started) / 1000).toFixed(0);
    console.log(
      `| ${nodes} | ${scenario} | ${(r.success * 100).toFixed(1)}% | ${r.hopsP50} / ${r.hopsP99} | ${r.timeP50Ms} / ${r.timeP99Ms} ms | ${r.messagesPerLookup.toFixed(1)} | ${(r.topicSuccess * 100).toFixed(1)}% | ${r.contacts.toFixed(1)} | ${wall} s |`,
    );
  }
}
