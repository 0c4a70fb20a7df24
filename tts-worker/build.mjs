// Bundles the HTTP server and the worker thread into dist/: our own workspace packages
// (TypeScript source, e.g. @chatmeter/shared's text preparation) are compiled in; every
// other dependency stays external and is resolved from node_modules at run time.
// `node build.mjs --outdir <dir>` builds elsewhere (the build test uses it).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf('--outdir');
const outdir = path.resolve(root, flag > 0 ? process.argv[flag + 1] : 'dist');

await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { server: 'src/server.ts', 'synth.worker': 'src/synth.worker.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [
    {
      name: 'externalise-node-modules',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('@chatmeter/')) return undefined;
          return { path: args.path, external: true };
        });
      },
    },
  ],
});
console.log(`built ${path.relative(root, outdir) || '.'}/server.js and synth.worker.js`);
