// Benchmark of the edge gate (not a test): requests/s and p50/p99 latency
// at 16 connections, interleaved rounds, through
//   (a) the gate with a valid token, (b) the gate with a tampered token,
//   (c) a pass-through Worker, (d) Hono's hono/jwk with the same key/token,
// all under `wrangler dev` (VSCODE_INSPECTOR_OPTIONS=1) in front of the same
// trivial loopback origin; then the gate's upload size (wrangler deploy
// --dry-run). Loopback only, bounded in time.
//
//   worker/build.sh && node worker/bench/run.js [--duration S] [--rounds N]
//
// Needs `wrk` (Debian package) and `npm install` in worker/.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { mint, startOrigin, startWrangler, gateVars, ISSUER, AUDIENCE, WORKER_DIR, REPO_DIR } from '../test/harness.js';

const run = promisify(execFile);
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const DURATION = Math.min(arg('duration', 10), 60);
const ROUNDS = Math.min(arg('rounds', 3), 10);
const CONNECTIONS = 16;

function seconds(value, unit) {
  return Number(value) * { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[unit];
}

async function wrk(url, token, duration) {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${duration}s`, '--timeout', '5s', '--latency'];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  args.push(url);
  const { stdout } = await run('wrk', args, { timeout: (duration + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout);
    return m ? seconds(m[1], m[2]) * 1000 : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p50: pct(50), p99: pct(99), non2xx };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function uploadSize() {
  const out = await mkdtemp(join(tmpdir(), 'edgeauth-dry-run-'));
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(WORKER_DIR, 'node_modules', 'wrangler', 'bin', 'wrangler.js'), 'deploy', '--dry-run', '--outdir', out],
      { cwd: REPO_DIR, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' }, maxBuffer: 1 << 24 },
    );
    const line = /Total Upload:.*/.exec(stdout + stderr)?.[0];
    return line ?? 'Total Upload line not found';
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main() {
  const fixtures = await mint();
  const { valid, tampered } = fixtures.tokens;
  const origin = await startOrigin({ echo: false });
  const instances = [];
  try {
    const routes = JSON.stringify([{ path: '/**', require: {} }]);
    const [gate, pass, hono] = await Promise.all([
      startWrangler({ name: 'bench-gate', inspector: false, vars: gateVars({ origin: origin.url, jwks: fixtures.jwks_k1, routes }) }),
      startWrangler({ name: 'bench-pass', inspector: false, main: join(WORKER_DIR, 'bench', 'passthrough.js'), vars: { ORIGIN: origin.url } }),
      startWrangler({
        name: 'bench-hono',
        inspector: false,
        main: join(WORKER_DIR, 'bench', 'hono.js'),
        vars: { ORIGIN: origin.url, JWKS: fixtures.jwks_k1, ISSUER, AUDIENCE },
      }),
    ]);
    instances.push(gate, pass, hono);

    const configs = [
      { name: '(a) gate, valid token', url: `${gate.url}/api/bench`, token: valid, status: 200 },
      { name: '(b) gate, tampered token', url: `${gate.url}/api/bench`, token: tampered, status: 401 },
      { name: '(c) pass-through Worker', url: `${pass.url}/api/bench`, token: valid, status: 200 },
      { name: '(d) hono/jwk, valid token', url: `${hono.url}/api/bench`, token: valid, status: 200 },
    ];
    for (const c of configs) {
      const r = await fetch(c.url, { headers: { authorization: `Bearer ${c.token}` } });
      await r.body?.cancel();
      if (r.status !== c.status) throw new Error(`${c.name}: status ${r.status}, expected ${c.status}`);
      await wrk(c.url, c.token, 2); // warm-up
    }

    const results = new Map(configs.map((c) => [c.name, []]));
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const c of configs) {
        const r = await wrk(c.url, c.token, DURATION);
        results.get(c.name).push(r);
        console.error(`round ${round} ${c.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      }
    }

    const summary = configs.map((c) => {
      const rs = results.get(c.name);
      return { name: c.name, rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) };
    });
    const base = summary.find((s) => s.name.startsWith('(c)'));
    console.log(`\n${ROUNDS} interleaved rounds of ${DURATION} s, ${CONNECTIONS} connections, medians:\n`);
    console.log('| configuration | req/s | vs pass-through | p50 ms | added p50 ms | p99 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const s of summary) {
      console.log(
        `| ${s.name} | ${s.rps.toFixed(0)} | ${(s.rps / base.rps).toFixed(2)}x | ${s.p50.toFixed(2)} | ${(s.p50 - base.p50).toFixed(2)} | ${s.p99.toFixed(2)} |`,
      );
    }
  } finally {
    await Promise.all(instances.map((w) => w.stop()));
    await origin.close();
  }
  console.log(`\nUpload size (wrangler deploy --dry-run): ${await uploadSize()}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
