// Benchmarks @edgeauth/verify against the budgets (README.md, "Budgets"):
//
//   node bench/run.mjs            print the results
//   node bench/run.mjs --write    ...and write them into README.md
//   node bench/run.mjs --quick    fewer rounds (a smoke run; numbers are rough)
//
// CPU per verification is process CPU time (user + system) over many calls,
// for each contender in turn, round after round, in this one process; the
// median round counts. All contenders check the same vector token at the
// same time: this package without and with its cache, jose's jwtVerify with
// a local JWKS, and node:crypto's raw Ed25519 verify of the same signing
// input (the floor: signature only, no parsing or claims).
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { gzipSync } from 'node:zlib';
import * as jose from 'jose';
import { Verifier } from '@edgeauth/verify';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const ROUNDS = quick ? 3 : 15;
const ROUND_MS = quick ? 40 : 200;
const STARTS = quick ? 5 : 31;

const pkgDir = new URL('../', import.meta.url);
const tokens = JSON.parse(readFileSync(new URL('../tests/vectors/tokens.json', pkgDir), 'utf8'));
const valid = tokens.cases.find((c) => c.name === 'valid');
const { issuer, audience, jwks } = tokens;

// --- contenders -------------------------------------------------------------

const uncached = new Verifier({ jwks, issuer, audience, cacheSize: 0, clock: () => valid.now });
const cached = new Verifier({ jwks, issuer, audience, clock: () => valid.now });
const localJwks = jose.createLocalJWKSet(jwks);
const joseOptions = {
  issuer,
  audience,
  typ: 'at+jwt',
  algorithms: ['EdDSA'],
  currentDate: new Date(valid.now * 1000),
};
const [h, p, s] = valid.token.split('.');
const signingInput = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');
const kid = JSON.parse(Buffer.from(h, 'base64url')).kid;
const publicKey = createPublicKey({ key: jwks.keys.find((k) => k.kid === kid), format: 'jwk' });

let sink = 0;
const contenders = {
  'node:crypto raw Ed25519 verify (floor)': () => {
    sink += cryptoVerify(null, signingInput, publicKey, signature) ? 1 : 0;
  },
  "jose jwtVerify, local JWKS": async () => {
    sink += (await jose.jwtVerify(valid.token, localJwks, joseOptions)).payload.exp;
  },
  '@edgeauth/verify, uncached': () => {
    sink += uncached.verify(valid.token, valid.now).exp;
  },
  '@edgeauth/verify, cached': () => {
    sink += cached.verify(valid.token, valid.now).exp;
  },
};

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Runs `fn` `n` times; returns CPU microseconds per call. */
async function timed(fn, n) {
  const isAsync = fn.constructor.name === 'AsyncFunction';
  const start = cpuMicros();
  if (isAsync) for (let i = 0; i < n; i++) await fn();
  else for (let i = 0; i < n; i++) fn();
  return (cpuMicros() - start) / n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

async function cpuPerCall() {
  // Warm up (JIT tiers, wasm tier-up) and size each batch to about ROUND_MS.
  const batch = {};
  for (const [name, fn] of Object.entries(contenders)) {
    await timed(fn, 2000);
    const perCall = await timed(fn, 2000);
    batch[name] = Math.max(100, Math.round((ROUND_MS * 1000) / Math.max(perCall, 0.01)));
  }
  const samples = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(contenders)) samples[name].push(await timed(fn, batch[name]));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));
}

/** Wall time of `node ...args` from spawn to exit, median of STARTS runs, in ms. */
function startup() {
  const script = `import { Verifier } from '@edgeauth/verify';
const v = new Verifier(${JSON.stringify({ jwks, issuer, audience })});
if (v.verify(${JSON.stringify(valid.token)}, ${valid.now}).sub !== ${JSON.stringify(valid.expect.claims.sub)}) process.exit(1);`;
  const runs = { bare: [], package: [] };
  const run = (argv) => {
    const start = performance.now();
    execFileSync(process.execPath, argv, { cwd: pkgDir, stdio: 'ignore' });
    return performance.now() - start;
  };
  run(['-e', '']);
  for (let i = 0; i < STARTS; i++) {
    runs.bare.push(run(['-e', '']));
    runs.package.push(run(['--input-type=module', '-e', script]));
  }
  return { bare: median(runs.bare), package: median(runs.package) };
}

// --- run --------------------------------------------------------------------

const wasm = readFileSync(new URL('dist/edgeauth_wasm_bg.wasm', pkgDir));
const size = { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
const cpu = await cpuPerCall();
const start = startup();
if (sink === 0) throw new Error('nothing ran');

const floor = cpu['node:crypto raw Ed25519 verify (floor)'];
const jose_ = cpu["jose jwtVerify, local JWKS"];
const ours = cpu['@edgeauth/verify, uncached'];
const hit = cpu['@edgeauth/verify, cached'];
const f = (x, d = 2) => x.toFixed(d);
const verdict = (ok) => (ok ? 'within budget' : '**over budget**');

const lines = [
  `Command: \`npm run bench\` (\`node bench/run.mjs${quick ? ' --quick' : ''}\`) after \`npm run build\`;`,
  `Node ${process.version}, ${cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus().length} cores.`,
  '',
  '| contender | CPU µs / verification | vs jose | vs node:crypto floor |',
  '|---|---:|---:|---:|',
  ...Object.entries(cpu).map(
    ([name, us]) => `| ${name} | ${f(us)} | ${f(us / jose_)}x | ${f(us / floor)}x |`,
  ),
  '',
  '| budget | measured | verdict |',
  '|---|---|---|',
  `| CPU per verification <= 0.75x jose | ${f(ours / jose_)}x jose (${f(ours / floor)}x the raw-verify floor) | ${verdict(ours / jose_ <= 0.75)} |`,
  `| .wasm <= 64 KiB gzipped | ${f(size.gzip / 1024, 1)} KiB gzipped (${f(size.raw / 1024, 1)} KiB raw) | ${verdict(size.gzip <= 64 * 1024)} |`,
  `| import + first verification <= 20 ms above \`node -e ''\` | ${f(start.package - start.bare, 1)} ms (${f(start.package, 1)} vs ${f(start.bare, 1)} ms, medians of ${STARTS} starts) | ${verdict(start.package - start.bare <= 20)} |`,
  `| a cached token >= 20x cheaper than a full verification | ${f(ours / hit, 0)}x (${f(hit)} vs ${f(ours)} µs) | ${verdict(ours / hit >= 20)} |`,
];
const report = lines.join('\n');
console.log(report);

if (args.has('--write')) {
  const readme = new URL('README.md', pkgDir);
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- bench:begin -->';
  const end = '<!-- bench:end -->';
  const [before, rest] = text.split(begin);
  if (rest === undefined || !rest.includes(end)) throw new Error(`README.md lacks ${begin} ... ${end}`);
  writeFileSync(readme, `${before}${begin}\n${report}\n${end}${rest.split(end)[1]}`);
  console.log('\nwritten to README.md');
}
