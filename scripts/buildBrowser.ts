/**
 * The browser build (`npm run build`, after tsc): the library as one ES module,
 * dist/browser/p2p-dht-node.js, and the web app in dist/web/ (with a copy of the library, which a
 * server started with `webApp` serves at /p2p-dht-node.js). A source file `x.browser.ts` next to
 * `x.ts` takes its place in these bundles (crypto, storage, WebRTC, identity files, inspectors);
 * everything else is the same code the Node build runs.
 *
 * Usage: tsx scripts/buildBrowser.ts [--quiet]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Plugin } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** Resolves `./x.js` to `./x.browser.ts` when that file exists beside `./x.ts`. */
const browserTwins: Plugin = {
  name: 'browser-twins',
  setup(build) {
    build.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      if (!args.resolveDir.startsWith(src)) return undefined;
      const twin = resolve(args.resolveDir, args.path.replace(/\.js$/, '.browser.ts'));
      return existsSync(twin) ? { path: twin } : undefined;
    });
  },
};

const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome120', 'firefox128', 'safari17'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  inject: [join(src, 'browser/globals.ts')],
  define: { global: 'globalThis', 'process.env.NODE_DEBUG': 'undefined' },
  plugins: [browserTwins],
  logLevel: 'warning',
};

/** Bytes of `file` and of it gzipped, as the closing notes and docs/browser.md report them. */
function sizeOf(file: string): { bytes: number; gzipped: number } {
  const bytes = readFileSync(file);
  return { bytes: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
}

const library = join(root, 'dist/browser/p2p-dht-node.js');
const app = join(root, 'dist/web/app.js');
await Promise.all([
  build({ ...common, entryPoints: [join(src, 'browser.ts')], outfile: library }),
  build({ ...common, entryPoints: [join(src, 'web/app.ts')], outfile: app }),
]);
mkdirSync(join(root, 'dist/web'), { recursive: true });
for (const file of ['index.html', 'style.css']) copyFileSync(join(src, 'web', file), join(root, 'dist/web', file));
// The library too, so that pages can import it from the server they signal through.
copyFileSync(library, join(root, 'dist/web/p2p-dht-node.js'));

if (!process.argv.includes('--quiet')) {
  for (const [name, file] of [['library', library], ['web app', app]] as const) {
    const { bytes, gzipped } = sizeOf(file);
    console.log(`${name}: ${(bytes / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped (${file.slice(root.length + 1)})`);
  }
}
