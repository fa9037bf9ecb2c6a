// Uncached verification speed of builds of this package side by side, in
// one process (docs/measurements.md, npm package, "Build settings"): the
// quick comparison behind that table; bench/run.mjs measures the budgets.
//
//   node bench/speed.mjs [--rounds N] LABEL=DIR...
//
// DIR is a copy of the package (its src/ and dist/); `.` is this one. Each
// copy is its own WebAssembly instance. Every round times a batch of
// verifications of the vector token for each build and for jose's jwtVerify,
// back to back (process CPU time); printed are the median CPU µs per
// verification and the medians (and ranges) of the per-round ratios to the
// first build and to jose.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import * as jose from 'jose';

const argv = process.argv.slice(2);
let rounds = 31;
const specs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--rounds') rounds = Number(argv[++i]);
  else specs.push(argv[i]);
}
if (specs.length === 0) specs.push('package=.');

const pkgDir = new URL('../', import.meta.url);
const tokens = JSON.parse(readFileSync(new URL('../tests/vectors/tokens.json', pkgDir), 'utf8'));
const valid = tokens.cases.find((c) => c.name === 'valid');
const { issuer, audience, jwks } = tokens;

let sink = 0;
const contenders = [];
for (const spec of specs) {
  const [label, dir] = spec.split(/=(.*)/s);
  const entry = dir === '.' ? '@edgeauth/verify' : pathToFileURL(resolve(dir, 'src/node.js')).href;
  const { Verifier } = await import(entry);
  const v = new Verifier({ jwks, issuer, audience, cacheSize: 0 });
  contenders.push({ label, fn: () => (sink += v.verify(valid.token, valid.now).exp) });
}
const localJwks = jose.createLocalJWKSet(jwks);
const joseOptions = { issuer, audience, typ: 'at+jwt', algorithms: ['EdDSA'], currentDate: new Date(valid.now * 1000) };
const joseFn = async () => (sink += (await jose.jwtVerify(valid.token, localJwks, joseOptions)).payload.exp);

const cpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
async function timed(fn, n, isAsync) {
  const start = cpu();
  if (isAsync) for (let i = 0; i < n; i++) await fn();
  else for (let i = 0; i < n; i++) fn();
  return (cpu() - start) / n;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

for (const c of contenders) await timed(c.fn, 3000, false);
await timed(joseFn, 3000, true);
const N = 300;
const samples = contenders.map(() => []);
const joseSamples = [];
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < contenders.length; k++) {
    const i = (k + r) % contenders.length;
    samples[i].push(await timed(contenders[i].fn, N, false));
  }
  joseSamples.push(await timed(joseFn, N, true));
}
if (sink === 0) throw new Error('nothing ran');

const ratio = (a, b) => {
  const rs = a.map((x, i) => x / b[i]);
  return `${median(rs).toFixed(2)}x (${Math.min(...rs).toFixed(2)}..${Math.max(...rs).toFixed(2)})`;
};
console.log(`${rounds} rounds of ${N}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log(`jose jwtVerify: ${median(joseSamples).toFixed(1)} µs`);
for (let i = 0; i < contenders.length; i++) {
  console.log(
    `${contenders[i].label.padEnd(24)} ${median(samples[i]).toFixed(1).padStart(7)} µs   vs ${contenders[0].label}: ${ratio(samples[i], samples[0])}   vs jose: ${ratio(samples[i], joseSamples)}`,
  );
}
