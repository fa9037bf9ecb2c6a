// Start-up cost of builds of this package side by side (docs/measurements.md,
// npm package, "Build settings, chosen by measurement"): the same script as bench/run.mjs's
// start-up budget (import, new Verifier, one verification), run against
// several copies of the package, interleaved with a bare `node -e ''`.
//
//   node bench/startup.mjs [--starts N] [--kill] [LABEL=DIR[:FLAG,FLAG...]]...
//
// DIR is a copy of the package (its src/ and dist/, with node_modules/ or not;
// `.` is this one). FLAGs are extra node options for that contender, for
// diagnosis only (for instance `--no-wasm-tier-up`): the package itself
// never sets V8 flags. `--kill` ends every script, the bare one too, with
// SIGKILL, which skips what a normal exit waits for (background compilation).
//
// Each round runs every contender once, in an order that rotates from round
// to round; each start is timed by bash's `time` (wall, and user + system
// CPU of the child). Printed: medians over the rounds, and each contender's
// median of per-round differences to the bare start of the same round.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
let starts = 21;
let kill = false;
const specs = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--starts') starts = Number(argv[++i]);
  else if (argv[i] === '--kill') kill = true;
  else specs.push(argv[i]);
}
if (specs.length === 0) specs.push('package=.');

const pkgDir = new URL('../', import.meta.url);
const tokens = JSON.parse(readFileSync(new URL('../tests/vectors/tokens.json', pkgDir), 'utf8'));
const valid = tokens.cases.find((c) => c.name === 'valid');
const { issuer, audience, jwks } = tokens;
const ending = kill ? "\nprocess.kill(process.pid, 'SIGKILL');" : '';

const script = (entry) => `import { Verifier } from '${entry}';
const v = new Verifier(${JSON.stringify({ jwks, issuer, audience })});
if (v.verify(${JSON.stringify(valid.token)}, ${valid.now}).sub !== ${JSON.stringify(valid.expect.claims.sub)}) process.exit(1);${ending}`;

const contenders = [{ label: "node -e ''", argv: ['-e', kill ? "process.kill(process.pid, 'SIGKILL')" : ''] }];
for (const spec of specs) {
  const [label, rest] = spec.split(/=(.*)/s);
  const [dir, flags = ''] = rest.split(/:(.*)/s);
  const entry = dir === '.' ? '@edgeauth/verify' : pathToFileURL(resolve(dir, 'src/node.js')).href;
  contenders.push({
    label,
    argv: [...flags.split(',').filter(Boolean), '--input-type=module', '-e', script(entry)],
  });
}

function run(args) {
  // `|| true`: with --kill the child dies of SIGKILL; `time` still reports.
  const out = execFileSync(
    'bash',
    ['-c', 'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&1 || true; } 2>&1', 'bash', process.execPath, ...args],
    { cwd: pkgDir, encoding: 'utf8' },
  );
  const [real, user, sys] = out.trim().split('\n').at(-1).split(/\s+/).map(Number);
  return { wall: real * 1000, cpu: (user + sys) * 1000 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

// Each contender once before counting (file cache, lazy paths).
for (const c of contenders) run(c.argv);
const samples = contenders.map(() => []);
for (let round = 0; round < starts; round++) {
  for (let k = 0; k < contenders.length; k++) {
    const i = (k + round) % contenders.length;
    samples[i].push(run(contenders[i].argv));
  }
}

const f = (x) => x.toFixed(1).padStart(6);
console.log(`${starts} rounds${kill ? ', every script ends in SIGKILL' : ''}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('contender                       wall ms  CPU ms   wall-bare  CPU-bare   (medians; differences per round)');
for (let i = 0; i < contenders.length; i++) {
  const d = (key) => median(samples[i].map((s, r) => s[key] - samples[0][r][key]));
  console.log(
    `${contenders[i].label.padEnd(30)} ${f(median(samples[i].map((s) => s.wall)))} ${f(median(samples[i].map((s) => s.cpu)))}   ${f(d('wall'))}    ${f(d('cpu'))}`,
  );
}
