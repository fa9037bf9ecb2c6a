// Benchmark of the edge gate (not a test): requests/s and p50/p99 latency
// at 16 connections, interleaved rounds, through
//   (a) the gate with a valid token, (b) the gate with a tampered token,
//   (c) a pass-through Worker, (d) Hono's hono/jwk with the same key/token,
//   (f) the gate with a valid token and a revocation feed of 1,000 revoked
//   sessions (EDGEAUTH_REVOCATIONS_URL, served here with max-age 5 s as the
//   server does; signed like the server's with the fixtures' key k1),
// each in its own `wrangler dev` instance (VSCODE_INSPECTOR_OPTIONS=1) in
// front of the same trivial loopback origin; then the gate's upload size
// (wrangler deploy --dry-run). Loopback only, bounded in time.
//
//   worker/build.sh && node worker/bench/run.js [--duration S] [--rounds N]
//       [--compare OTHER/worker/build/index.js]
//
// --compare adds (e): another build of the gate (say, the last commit's,
// built in a copy of the tree with a CARGO_TARGET_DIR of its own: see
// docs/measurements.md, edge gate) with the valid token, in the same rounds, so a
// change is measured side by side rather than across runs.
//
// Needs `wrk` (Debian package) and `npm install` in worker/.

import { execFile } from 'node:child_process';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { mint, startOrigin, startWrangler, gateVars, ISSUER, AUDIENCE, WORKER_DIR, REPO_DIR } from '../test/harness.js';

const run = promisify(execFile);
const text = (name) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const arg = (name, fallback) => Number(text(name) ?? fallback);
const DURATION = Math.min(arg('duration', 10), 60);
const ROUNDS = Math.min(arg('rounds', 3), 10);
const COMPARE = text('compare');
const CONNECTIONS = 16;

function seconds(value, unit) {
  return Number(value) * { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[unit];
}

async function wrk(url, token, duration, pid) {
  const cpuBefore = pid ? await treeCpuSeconds(pid) : undefined;
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
  const cpuAfter = pid ? await treeCpuSeconds(pid) : undefined;
  const perRequest = (key) => (cpuAfter ? ((cpuAfter[key] - cpuBefore[key]) / requests) * 1e6 : NaN);
  return { rps, p50: pct(50), p99: pct(99), cpuUs: perRequest('total'), workerdUs: perRequest('workerd') };
}

/**
 * CPU seconds used so far by a process and all its descendants (wrangler's
 * node and its workerd processes), in all and by workerd alone (where the
 * Worker runs; node relays the requests): contention on a shared machine
 * changes wall-clock numbers more than these.
 */
async function treeCpuSeconds(root) {
  const stats = new Map();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command: state ppid ... utime (14th field overall) stime.
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        cpu: Number(fields[11]) + Number(fields[12]),
        workerd: command.startsWith('workerd'),
      });
    } catch { /* gone */ }
  }
  const seconds = { total: 0, workerd: 0 };
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop();
    const s = stats.get(pid);
    if (s) {
      seconds.total += s.cpu / 100; // USER_HZ
      if (s.workerd) seconds.workerd += s.cpu / 100;
    }
    for (const [child, c] of stats) if (c.ppid === pid) pending.push(child);
  }
  return seconds;
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

/**
 * Serves a revocation feed of `entries` random session ids, signed with
 * the fixtures' k1 (worker/examples/mint.rs: seed 32 bytes of 0x11), valid
 * for an hour, with `max-age=5` (the server's default); counts fetches.
 */
async function startFeed(fixtures, entries) {
  const k1 = JSON.parse(fixtures.jwks_k1).keys[0];
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k1.x, d: Buffer.alloc(32, 0x11).toString('base64url') }, format: 'jwk' });
  const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const iat = Math.floor(Date.now() / 1000);
  const sids = Array.from({ length: entries }, () => randomUUID()).sort();
  const input = `${part({ alg: 'EdDSA', kid: k1.kid, typ: 'revocations+jwt' })}.${part({ iss: ISSUER, iat, exp: iat + 3600, sids })}`;
  const feed = `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
  const state = { fetches: 0 };
  const server = createServer((req, res) => {
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/revocations+jwt', 'cache-control': 'public, max-age=5' }).end(feed);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}/.well-known/revocations`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

async function main() {
  const fixtures = await mint();
  const { valid, tampered } = fixtures.tokens;
  const origin = await startOrigin({ echo: false });
  const feed = await startFeed(fixtures, 1000);
  const instances = [];
  try {
    const routes = JSON.stringify([{ path: '/**', require: {} }]);
    // The gate as docs/gate.md recommends deploying it: signing the origin
    // assertion on every forwarded request.
    const vars = { ...gateVars({ origin: origin.url, jwks: fixtures.jwks_k1, routes }), EDGEAUTH_ASSERTION_KEY: fixtures.assertion_key };
    const gateOptions = { inspector: false, vars };
    // One instance per configuration, so each serves only its own load (an
    // instance shared by (a) and (b) serves twice the requests of the others).
    const started = await Promise.allSettled([
      startWrangler({ name: 'bench-gate-a', ...gateOptions }),
      startWrangler({ name: 'bench-gate-b', ...gateOptions }),
      startWrangler({ name: 'bench-pass', inspector: false, main: join(WORKER_DIR, 'bench', 'passthrough.js'), vars: { ORIGIN: origin.url } }),
      startWrangler({
        name: 'bench-hono',
        inspector: false,
        main: join(WORKER_DIR, 'bench', 'hono.js'),
        vars: { ORIGIN: origin.url, JWKS: fixtures.jwks_k1, ISSUER, AUDIENCE },
      }),
      COMPARE && startWrangler({ name: 'bench-gate-e', main: resolve(COMPARE), ...gateOptions }),
      startWrangler({ name: 'bench-gate-f', inspector: false, vars: { ...vars, EDGEAUTH_REVOCATIONS_URL: feed.url } }),
    ]);
    instances.push(...started.filter((s) => s.status === 'fulfilled' && s.value).map((s) => s.value));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [gateValid, gateTampered, pass, hono, other, gateFeed] = started.map((s) => s.value);

    const configs = [
      { name: '(a) gate, valid token', url: `${gateValid.url}/api/bench`, token: valid, status: 200, pid: gateValid.pid },
      { name: '(b) gate, tampered token', url: `${gateTampered.url}/api/bench`, token: tampered, status: 401, pid: gateTampered.pid },
      { name: '(c) pass-through Worker', url: `${pass.url}/api/bench`, token: valid, status: 200, pid: pass.pid },
      { name: '(d) hono/jwk, valid token', url: `${hono.url}/api/bench`, token: valid, status: 200, pid: hono.pid },
    ];
    if (other) {
      configs.push({ name: '(e) --compare gate, valid token', url: `${other.url}/api/bench`, token: valid, status: 200, pid: other.pid });
    }
    configs.push({ name: '(f) gate, valid token, 1,000-entry revocation feed', url: `${gateFeed.url}/api/bench`, token: valid, status: 200, pid: gateFeed.pid });
    for (const c of configs) {
      const r = await fetch(c.url, { headers: { authorization: `Bearer ${c.token}` } });
      await r.body?.cancel();
      if (r.status !== c.status) throw new Error(`${c.name}: status ${r.status}, expected ${c.status}`);
      await wrk(c.url, c.token, 2); // warm-up
    }

    const results = new Map(configs.map((c) => [c.name, []]));
    const loads = [loadavg()[0]];
    for (let round = 1; round <= ROUNDS; round += 1) {
      // Back to back, starting one configuration later each round.
      const order = configs.map((_, i) => configs[(i + round - 1) % configs.length]);
      for (const c of order) {
        const r = await wrk(c.url, c.token, DURATION, c.pid);
        results.get(c.name).push(r);
        console.error(
          `round ${round} ${c.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
            `${r.cpuUs.toFixed(0)} µs CPU/request (workerd ${r.workerdUs.toFixed(0)}), load ${loadavg()[0].toFixed(2)}`,
        );
        loads.push(loadavg()[0]);
      }
    }

    // Paired per round (each round runs all four back to back), so that
    // load drifting on a shared machine hits both sides of a ratio alike.
    const baseRounds = results.get(configs[2].name);
    // Does an instance slow down as it serves? workerd's CPU per request in
    // the last two rounds over the first two, relative to the same for the
    // pass-through (1.00: it ages like the pass-through; above: it slows).
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const growth = (rs) => {
      const us = rs.map((r) => r.workerdUs);
      return mean(us.slice(-2)) / mean(us.slice(0, 2));
    };
    const summary = configs.map((c) => {
      const rs = results.get(c.name);
      return {
        ratio: median(rs.map((r, i) => r.rps / baseRounds[i].rps)),
        addedP50: median(rs.map((r, i) => r.p50 - baseRounds[i].p50)),
        cpuRatio: median(rs.map((r, i) => r.cpuUs / baseRounds[i].cpuUs)),
        workerdRatio: median(rs.map((r, i) => r.workerdUs / baseRounds[i].workerdUs)),
        name: c.name,
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUs: median(rs.map((r) => r.cpuUs)),
        workerdUs: median(rs.map((r) => r.workerdUs)),
        growth: growth(rs) / growth(baseRounds),
      };
    });
    console.log(
      `\n${ROUNDS} interleaved rounds of ${DURATION} s, ${CONNECTIONS} connections; medians over rounds` +
        ' (ratios and differences paired per round with the pass-through):\n',
    );
    console.log(
      '| configuration | req/s | req/s vs pass-through | p50 ms | added p50 ms | p99 ms ' +
        '| CPU µs/request (wrangler + workerd) | CPU vs pass-through | workerd CPU µs/request | workerd CPU vs pass-through ' +
        '| workerd CPU growth, last 2 / first 2 rounds, vs pass-through |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of summary) {
      console.log(
        `| ${s.name} | ${s.rps.toFixed(0)} | ${s.ratio.toFixed(2)}x | ${s.p50.toFixed(2)} | ${s.addedP50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.cpuUs.toFixed(0)} | ${s.cpuRatio.toFixed(2)}x ` +
          `| ${s.workerdUs.toFixed(0)} | ${s.workerdRatio.toFixed(2)}x | ${s.growth.toFixed(2)} |`,
      );
    }
    // The feed's cost: (f) against (a), paired per round.
    const feedRounds = results.get(configs.at(-1).name);
    const gateRounds = results.get(configs[0].name);
    const perRound = (key) => feedRounds.map((r, i) => r[key] / gateRounds[i][key]);
    const range = (xs) => `${median(xs).toFixed(3)}x (${Math.min(...xs).toFixed(2)}..${Math.max(...xs).toFixed(2)})`;
    console.log(
      `\nThe revocation feed's cost, (f) over (a) per round (median, range): workerd CPU per request ${range(perRound('workerdUs'))}; ` +
        `req/s ${range(perRound('rps'))}; ${feed.state.fetches} feed fetches in all (max-age 5 s)`,
    );
    console.log(`\nLoad average (1 min) during the rounds: ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}`);
  } finally {
    await Promise.all(instances.map((w) => w.stop()));
    await origin.close();
    await feed.close();
  }
  console.log(`\nUpload size (wrangler deploy --dry-run): ${await uploadSize()}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
