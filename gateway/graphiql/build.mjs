// Bundles src/main.jsx (GraphiQL, the explorer plugin, React) into dist/graphiql.js and
// dist/graphiql.css with esbuild: run by `make assets` after `npm ci`. dist/ is build output
// (gitignored); the gateway serves it and the wheel carries it (pyproject's artifacts).
import * as esbuild from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: { graphiql: 'src/main.jsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: 'dist',
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'dataurl', '.png': 'dataurl' },
  assetNames: '[name]-[hash]',
  legalComments: 'external',
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.entries(result.metafile.outputs).map(
  ([name, { bytes }]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`,
);
console.log(outputs.join('\n'));
