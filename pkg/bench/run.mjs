// Benchmarks @edgeauth/verify against the budgets (README.md, "Budgets"):
//
//   node bench/run.mjs            print the results
//   node bench/run.mjs --write    ...and write them into README.md
//   node bench/run.mjs --quick    fewer rounds (a smoke run; numbers are rough)
//
// CPU per verification is process CPU time (user + system) over a batch of
// calls (about ROUND_MS each), for each contender in turn, round after round,
// in this one process. A contender's figure is its median batch; a ratio is
// the median of the per-round ratios (batches run back to back, so each pair
// saw the same load), with the range of those ratios. All contenders check the same vector token at the
// same time: this package without and with its cache, jose's jwtVerify with
// a local JWKS, and node:crypto's raw Ed25519 verify of the same signing
// input (the floor: signature only, no parsing or claims).
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import * as jose from 'jose';
import { Verifier } from '@edgeauth/verify';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const ROUNDS = quick ? 5 : 41;
const ROUND_MS = quick ? 20 : 60;
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
  return samples;
}

/** Median and range of a / b, round by round. */
function pairedRatio(a, b) {
  const ratios = a.map((x, i) => x / b[i]);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * Start-up cost: `node -e ''` against a module script that imports the
 * package, builds a verifier and verifies one token. Each start is timed by
 * bash's `time` (wall, and the child's user + system CPU); starts alternate
 * and the medians of STARTS count. CPU time is the steadier figure on a
 * shared machine; wall time is what a user waits.
 */
function startup() {
  const script = `import { Verifier } from '@edgeauth/verify';
const v = new Verifier(${JSON.stringify({ jwks, issuer, audience })});
if (v.verify(${JSON.stringify(valid.token)}, ${valid.now}).sub !== ${JSON.stringify(valid.expect.claims.sub)}) process.exit(1);`;
  const run = (argv) => {
    const out = execFileSync(
      'bash',
      ['-c', 'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&1; } 2>&1', 'bash', process.execPath, ...argv],
      { cwd: pkgDir, encoding: 'utf8' },
    );
    const [real, user, sys] = out.trim().split(/\s+/).map(Number);
    return { wall: real * 1000, cpu: (user + sys) * 1000 };
  };
  const runs = { bare: [], package: [] };
  run(['-e', '']);
  for (let i = 0; i < STARTS; i++) {
    runs.bare.push(run(['-e', '']));
    runs.package.push(run(['--input-type=module', '-e', script]));
  }
  const med = (xs, key) => median(xs.map((x) => x[key]));
  return {
    wall: { bare: med(runs.bare, 'wall'), package: med(runs.package, 'wall') },
    cpu: { bare: med(runs.bare, 'cpu'), package: med(runs.package, 'cpu') },
  };
}

// --- run --------------------------------------------------------------------

const wasm = readFileSync(new URL('dist/edgeauth_wasm_bg.wasm', pkgDir));
const size = { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
const samples = await cpuPerCall();
const cpu = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));
const start = startup();
if (sink === 0) throw new Error('nothing ran');

const FLOOR = 'node:crypto raw Ed25519 verify (floor)';
const JOSE = 'jose jwtVerify, local JWKS';
const OURS = '@edgeauth/verify, uncached';
const HIT = '@edgeauth/verify, cached';
const ratio = Object.fromEntries(
  Object.keys(samples).map((name) => [
    name,
    { jose: pairedRatio(samples[name], samples[JOSE]), floor: pairedRatio(samples[name], samples[FLOOR]) },
  ]),
);
const ours = cpu[OURS];
const hit = cpu[HIT];
const vsJose = ratio[OURS].jose;
const speedup = pairedRatio(samples[OURS], samples[HIT]);
const f = (x, d = 2) => x.toFixed(d);
const verdict = (ok) => (ok ? 'within budget' : '**over budget**');

const lines = [
  `Command: \`npm run bench\` (\`node bench/run.mjs${quick ? ' --quick' : ''}\`) after \`npm run build\`;`,
  `Node ${process.version}, ${cpus()[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus().length} cores,`,
  `load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (other work on the machine inflates every figure;`,
  `the ratios, taken side by side, move less). Start-up: medians of ${STARTS} alternating starts.`,
  '',
  `| contender | CPU µs / verification | vs jose (range over ${ROUNDS} rounds) | vs node:crypto floor |`,
  '|---|---:|---:|---:|',
  ...Object.entries(cpu).map(
    ([name, us]) =>
      `| ${name} | ${f(us)} | ${f(ratio[name].jose.median)}x (${f(ratio[name].jose.min)}..${f(ratio[name].jose.max)}) | ${f(ratio[name].floor.median)}x |`,
  ),
  '',
  '| budget | measured | verdict |',
  '|---|---|---|',
  `| CPU per verification <= 0.75x jose | ${f(vsJose.median)}x jose (rounds ${f(vsJose.min)}..${f(vsJose.max)}; ${f(ratio[OURS].floor.median)}x the raw-verify floor) | ${verdict(vsJose.median <= 0.75)} |`,
  `| .wasm <= 64 KiB gzipped | ${f(size.gzip / 1024, 1)} KiB gzipped (${f(size.raw / 1024, 1)} KiB raw) | ${verdict(size.gzip <= 64 * 1024)} |`,
  `| import + first verification <= 20 ms above \`node -e ''\`, wall | ${f(start.wall.package - start.wall.bare, 1)} ms (${f(start.wall.package, 1)} vs ${f(start.wall.bare, 1)} ms) | ${verdict(start.wall.package - start.wall.bare <= 20)} |`,
  `| the same, CPU (user + system) | ${f(start.cpu.package - start.cpu.bare, 1)} ms (${f(start.cpu.package, 1)} vs ${f(start.cpu.bare, 1)} ms) | ${verdict(start.cpu.package - start.cpu.bare <= 20)} |`,
  `| a cached token >= 20x cheaper than a full verification | ${f(speedup.median, 0)}x (${f(hit)} vs ${f(ours)} µs; rounds ${f(speedup.min, 0)}..${f(speedup.max, 0)}x) | ${verdict(speedup.median >= 20)} |`,
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
