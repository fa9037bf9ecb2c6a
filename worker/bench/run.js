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
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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

async function wrk(url, token, duration, pid) {
  const cpuBefore = pid ? await treeCpuSeconds(pid) : 0;
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${duration}s`, '--timeout', '5s', '--latency'];
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  args.push(url);
  const { stdout } = await run('wrk', args, { timeout: (duration + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout);
    return m ? seconds(m[1], m[2]) * 1000 : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const cpu = pid ? (await treeCpuSeconds(pid)) - cpuBefore : NaN;
  return { rps, p50: pct(50), p99: pct(99), cpuUs: (cpu / requests) * 1e6 };
}

/**
 * CPU seconds used so far by a process and all its descendants (wrangler's
 * node and its workerd processes): contention on a shared machine changes
 * wall-clock numbers, not this.
 */
async function treeCpuSeconds(root) {
  const stats = new Map();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command: state ppid ... utime (14th field overall) stime.
      stats.set(Number(entry), { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) });
    } catch { /* gone */ }
  }
  let total = 0;
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop();
    total += stats.get(pid)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) pending.push(child);
  }
  return total / 100; // USER_HZ
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
      { name: '(a) gate, valid token', url: `${gate.url}/api/bench`, token: valid, status: 200, pid: gate.pid },
      { name: '(b) gate, tampered token', url: `${gate.url}/api/bench`, token: tampered, status: 401, pid: gate.pid },
      { name: '(c) pass-through Worker', url: `${pass.url}/api/bench`, token: valid, status: 200, pid: pass.pid },
      { name: '(d) hono/jwk, valid token', url: `${hono.url}/api/bench`, token: valid, status: 200, pid: hono.pid },
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
        const r = await wrk(c.url, c.token, DURATION, c.pid);
        results.get(c.name).push(r);
        console.error(
          `round ${round} ${c.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.cpuUs.toFixed(0)} µs CPU/request`,
        );
      }
    }

    // Paired per round (each round runs all four back to back), so that
    // load drifting on a shared machine hits both sides of a ratio alike.
    const baseRounds = results.get(configs[2].name);
    const summary = configs.map((c) => {
      const rs = results.get(c.name);
      return {
        ratio: median(rs.map((r, i) => r.rps / baseRounds[i].rps)),
        addedP50: median(rs.map((r, i) => r.p50 - baseRounds[i].p50)),
        cpuRatio: median(rs.map((r, i) => r.cpuUs / baseRounds[i].cpuUs)),
        name: c.name,
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUs: median(rs.map((r) => r.cpuUs)),
      };
    });
    console.log(
      `\n${ROUNDS} interleaved rounds of ${DURATION} s, ${CONNECTIONS} connections; medians over rounds` +
        ' (ratios and differences paired per round with the pass-through):\n',
    );
    console.log('| configuration | req/s | req/s vs pass-through | p50 ms | added p50 ms | p99 ms | CPU µs/request (wrangler + workerd) | CPU vs pass-through |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of summary) {
      console.log(
        `| ${s.name} | ${s.rps.toFixed(0)} | ${s.ratio.toFixed(2)}x | ${s.p50.toFixed(2)} | ${s.addedP50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.cpuUs.toFixed(0)} | ${s.cpuRatio.toFixed(2)}x |`,
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
