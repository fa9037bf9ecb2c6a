// The size budget of @edgeauth/client: every file a browser loads (the
// module graph of src/index.js) gzipped, in total at most 6 KiB; and no
// WebAssembly anywhere in that graph. Prints the figure README.md quotes.
//
//   node bench/size.mjs
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 6 * 1024;
const entry = new URL('../src/index.js', import.meta.url);

/** The files of the module graph, following static relative imports. */
function graph(url, seen = new Map()) {
  if (seen.has(url.href)) return seen;
  const text = readFileSync(url, 'utf8');
  seen.set(url.href, text);
  for (const [, spec] of text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]/g)) {
    graph(new URL(spec, url), seen);
  }
  return seen;
}

const files = graph(entry);
let raw = 0;
let gzipped = 0;
const problems = [];
for (const [href, text] of files) {
  const name = href.slice(new URL('..', import.meta.url).href.length);
  const gz = gzipSync(text, { level: 9 }).length;
  raw += Buffer.byteLength(text);
  gzipped += gz;
  console.log(`${name.padEnd(16)} ${String(Buffer.byteLength(text)).padStart(6)} B  ${String(gz).padStart(5)} B gzipped`);
  if (!name.endsWith('.js')) problems.push(`${name} is not JavaScript`);
  if (/\.wasm\b|WebAssembly/.test(text)) problems.push(`${name} refers to WebAssembly`);
}
console.log(`total            ${String(raw).padStart(6)} B  ${String(gzipped).padStart(5)} B gzipped (${(gzipped / 1024).toFixed(2)} KiB of ${BUDGET / 1024} KiB)`);
if (gzipped > BUDGET) problems.push(`over the budget: ${gzipped} B > ${BUDGET} B gzipped`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${files.size} files, no .wasm, no WebAssembly: within the budget`);
