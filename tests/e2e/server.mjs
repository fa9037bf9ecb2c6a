// Starts a live issuing server (the `edgeauth` binary) on a free loopback
// port with a throwaway SQLite database, for cross-component tests.
//
//   const server = await startServer();   // { url, issuer, audience, run, stop }
//   const server = await startServer({ EDGEAUTH_REVOCATIONS_MAX_AGE: '2' }); // more settings
//   const { access_token } = await server.login(email, password);
//
// The binary is $EDGEAUTH_SERVER_BIN (scripts/test-e2e.sh builds it).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ISSUER = 'https://auth.e2e.edgeauth.test';
export const AUDIENCE = 'api.e2e.edgeauth.test';

export async function startServer(settings = {}) {
  const bin = process.env.EDGEAUTH_SERVER_BIN;
  if (!bin) throw new Error('EDGEAUTH_SERVER_BIN is not set (run scripts/test-e2e.sh)');
  const dir = mkdtempSync(join(tmpdir(), 'edgeauth-e2e-'));
  const env = {
    ...process.env,
    EDGEAUTH_MODE: 'test',
    EDGEAUTH_DATABASE_URL: `sqlite://${join(dir, 'edgeauth.db')}`,
    EDGEAUTH_MASTER_KEY_FILE: join(dir, 'master-key'),
    EDGEAUTH_BIND: '127.0.0.1:0',
    EDGEAUTH_ISSUER: ISSUER,
    EDGEAUTH_AUDIENCE: AUDIENCE,
    EDGEAUTH_COOKIE_SECURE: 'false',
    EDGEAUTH_LOG: 'warn',
    ...settings,
  };
  // CLI commands against the same database (the server rereads keys and roles).
  const run = (args, input) => {
    const out = spawnSync(bin, args, { env, input, encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`edgeauth ${args.join(' ')}: ${out.stderr}`);
    return out.stdout;
  };
  run(['migrate']);

  const child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 60_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/listening on (http:\/\/[\d.:]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${stderr}`)); });
  });

  const json = async (path, init = {}) => {
    const res = await fetch(url + path, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
    const body = res.status === 204 ? null : await res.json();
    return { status: res.status, headers: res.headers, body };
  };

  return {
    url,
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUrl: `${url}/.well-known/jwks.json`,
    revocationsUrl: `${url}/.well-known/revocations`,
    run,
    json,
    async register(email, password) {
      const r = await json('/auth/register', { method: 'POST', body: JSON.stringify({ email, password }) });
      if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.user;
    },
    async login(email, password) {
      const r = await json('/auth/token', { method: 'POST', body: JSON.stringify({ email, password }) });
      if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
