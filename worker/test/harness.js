// Shared by the workerd tests and the benchmark: a local origin that echoes
// what it received and serves a JWKS, deterministic tokens from the core's
// signer, and `wrangler dev` instances on free loopback ports.

import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const WORKER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(WORKER_DIR, '..');
export const ISSUER = 'https://auth.edgeauth.test';
export const AUDIENCE = 'api.edgeauth.test';

/** The key sets and tokens of `cargo run --example mint` (see worker/examples/mint.rs). */
export async function mint() {
  const { stdout } = await promisify(execFile)(
    'cargo',
    ['run', '-q', '-p', 'edgeauth-worker', '--example', 'mint', '--', ISSUER, AUDIENCE],
    { cwd: REPO_DIR, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout);
}

/** A token whose header names `kid` instead (its signature no longer matters). */
export function withKid(token, kid) {
  const [, payload, signature] = token.split('.');
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: 'at+jwt' })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/**
 * Starts the local origin on 127.0.0.1, port 0. `GET /jwks.json` answers the
 * current `jwks` (counting fetches), `.../redirect-me` answers a 302,
 * `.../hang-up` closes the connection without an answer, anything else echoes
 * the request as JSON.
 */
export async function startOrigin({ jwks, echo = true } = {}) {
  const state = { jwks, jwksFetches: 0, jwksStatus: 200 };
  const server = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      state.jwksFetches += 1;
      res.writeHead(state.jwksStatus, {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=300',
      });
      res.end(state.jwks);
      return;
    }
    if (req.url.endsWith('/hang-up')) {
      req.socket.destroy();
      return;
    }
    if (req.url.endsWith('/redirect-me')) {
      res.writeHead(302, { location: '/somewhere-else' });
      res.end();
      return;
    }
    if (!echo) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-origin': 'echo' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return {
    state,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

/** A free loopback port (bound, read and released). */
export async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}

/** The gate's settings as wrangler `--var` arguments. */
export function gateVars({ origin, jwksUrl = '', jwks = '', routes, leeway = '30', issuer = ISSUER, audience = AUDIENCE }) {
  return {
    EDGEAUTH_ISSUER: issuer,
    EDGEAUTH_AUDIENCE: audience,
    EDGEAUTH_JWKS_URL: jwksUrl,
    EDGEAUTH_JWKS: jwks,
    EDGEAUTH_ORIGIN: origin,
    EDGEAUTH_ROUTES: routes,
    EDGEAUTH_LEEWAY: leeway,
  };
}

const READY_TIMEOUT_MS = 120_000;
const OUTPUT_KEPT = 64 * 1024;

/**
 * Runs `wrangler dev` (local mode, workerd) on a free port for the Worker
 * whose entry is `main` (the built gate by default), with `vars`, without a
 * build step. Resolves once wrangler reports it is ready and answers.
 * `inspector: false` sets VSCODE_INSPECTOR_OPTIONS=1 (for load runs).
 */
export async function startWrangler(options = {}) {
  // The ports are probed free, then bound by wrangler and workerd a moment
  // later; another process may take one in between. Such a start is retried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWranglerOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e?.message))) throw e;
    }
  }
}

async function startWranglerOnce({ main = join(WORKER_DIR, 'build', 'index.js'), vars = {}, name = 'gate', inspector = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), `edgeauth-${name}-`));
  const config = join(dir, 'wrangler.toml');
  await writeFile(
    config,
    [`name = "edgeauth-${name}"`, `main = ${JSON.stringify(main)}`, 'compatibility_date = "2026-04-26"', ''].join('\n'),
  );
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    join(WORKER_DIR, 'node_modules', 'wrangler', 'bin', 'wrangler.js'),
    'dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
    '--show-interactive-dev-session=false',
  ];
  for (const [key, value] of Object.entries(vars)) args.push('--var', `${key}:${value}`);
  const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' };
  if (!inspector) env.VSCODE_INSPECTOR_OPTIONS = '1';
  const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // wrangler dev logs a line per request: keep only the latest output (for
  // error messages), so that a long run neither grows this string nor makes
  // each chunk cost more than the last. (The pipes must still be drained:
  // wrangler's writes to them block when they are full.)
  let output = '';
  const keep = (d) => {
    output += d;
    if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Bounded readiness wait: wrangler's "Ready" line, then one answer.
  try {
    await new Promise((ok, fail) => {
      const check = () => {
        if (/Ready on/.test(output)) done(ok);
      };
      const exited = () => done(() => fail(new Error(`wrangler exited:\n${output}`)));
      const timer = setTimeout(() => done(() => fail(new Error(`wrangler not ready:\n${output}`))), READY_TIMEOUT_MS);
      // Once ready (or failed), stop looking: the output goes on growing.
      const done = (settle) => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        child.off('exit', exited);
        settle();
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', exited);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await fetch(`${url}/__edgeauth_ready`, { signal: AbortSignal.timeout(10_000) });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`wrangler does not answer: ${e}\n${output}`);
        await new Promise((ok) => setTimeout(ok, 250));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, pid: child.pid, stop, output: () => output };
}
