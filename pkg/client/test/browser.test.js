// A real browser: headless Chromium (Debian's package, driven by
// playwright-core). The app page is served from one loopback origin, the
// edgeauth server answers on another: `edgeauth serve` for sign-up and
// sign-in, and for everything that needs a token to expire the real app on
// a manual clock (the example `test-clock-server`), behind a small proxy
// that counts the `POST /auth/refresh` requests that reach it. An access
// token expires when the server's clock is moved, never by waiting.
//
// The binaries are $EDGEAUTH_SERVER_BIN and $EDGEAUTH_CLOCK_SERVER_BIN
// (scripts/test-client.sh builds them). Skipped when one of them or
// /usr/bin/chromium is missing, unless EDGEAUTH_REQUIRE_BROWSER=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const SERVE_BIN = process.env.EDGEAUTH_SERVER_BIN ?? '';
const CLOCK_BIN = process.env.EDGEAUTH_CLOCK_SERVER_BIN ?? '';
const required = process.env.EDGEAUTH_REQUIRE_BROWSER === '1';
const skip =
  !required && ![CHROMIUM, SERVE_BIN, CLOCK_BIN].every((f) => existsSync(f)) && 'chromium or a server binary missing';
const PASSWORD = 'correct horse battery staple';
/** Past the default access TTL (900 s) and the verifier's leeway (30 s). */
const EXPIRE = 1000;
/** The tests' bound on waiting for another tab's lock, ms. */
const LOCK_TIMEOUT = 1000;

const listen = async (server) => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
};

/** The app: a page that loads the client's source files as ES modules. */
async function appServer() {
  const page = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">
  import { createAuthClient } from '/src/index.js';
  window.events = [];
  window.setup = (options) => {
    window.base = options.baseUrl;
    window.auth = createAuthClient(options);
    window.auth.onAuthStateChange((event) => window.events.push(event));
    return window.auth.ready.then(() => true);
  };
</script>`;
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    const m = /^\/src\/([a-z]+\.js)$/.exec(path);
    if (!m) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(new URL(`../src/${m[1]}`, import.meta.url)));
  });
  return { server, origin: `http://127.0.0.1:${await listen(server)}` };
}

/**
 * A server on a fresh database: `edgeauth serve`, or with `CLOCK_BIN` the
 * app on a manual clock, whose `advance(seconds)` moves its time.
 */
async function authServer(bin, args, allowedOrigin) {
  const dir = mkdtempSync(join(tmpdir(), 'edgeauth-client-'));
  const settings = {
    MODE: 'test',
    DATABASE_URL: `sqlite://${join(dir, 'edgeauth.db')}`,
    MASTER_KEY_FILE: join(dir, 'master-key'),
    BIND: '127.0.0.1:0',
    ISSUER: 'https://auth.client.edgeauth.test',
    AUDIENCE: 'api.client.edgeauth.test',
    COOKIE_SECURE: 'false',
    ALLOWED_ORIGINS: allowedOrigin,
    ARGON2_MEMORY_KIB: '64',
    ARGON2_ITERATIONS: '1',
    LOG: 'warn',
  };
  const env = { ...process.env };
  for (const [name, value] of Object.entries(settings)) env[`EDGEAUTH_${name}`] = value;
  const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`${bin} stopped: ${stderr}`);
    return value;
  };
  let url;
  while (!url) url = (await next()).match(/listening on (http:\/\/[\d.:]+)/)?.[1];
  return {
    url,
    async advance(seconds) {
      child.stdin.write(`advance ${seconds}\n`);
      assert.match(await next(), /^now \d+$/);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A pass-through proxy to the server that counts refreshes. */
async function countingProxy(target) {
  const { hostname, port } = new URL(target);
  const proxy = { refreshes: 0 };
  proxy.server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/auth/refresh') proxy.refreshes++;
    const upstream = request({ hostname, port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  proxy.url = `http://127.0.0.1:${await listen(proxy.server)}`;
  return proxy;
}

test('@edgeauth/client in headless Chromium against a live server', { skip, timeout: 180_000 }, async (t) => {
  const app = await appServer();
  t.after(() => app.server.close());
  const serve = await authServer(SERVE_BIN, ['serve'], app.origin);
  t.after(() => serve.stop());
  const server = await authServer(CLOCK_BIN, [], app.origin);
  t.after(() => server.stop());
  const proxy = await countingProxy(server.url);
  t.after(() => proxy.server.close());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  t.after(() => browser.close());

  const requested = [];
  let users = 0;
  /** A fresh browser profile with `n` tabs of the app, each with a client. */
  async function tabs(n, options = {}, init) {
    const context = await browser.newContext();
    t.after(() => context.close());
    context.on('request', (r) => requested.push(r));
    if (init) await context.addInitScript(init);
    const pages = [];
    for (let i = 0; i < n; i++) {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e));
      t.after(() => assert.deepEqual(errors, []));
      await page.goto(app.origin + '/');
      await page.waitForFunction(() => typeof window.setup == 'function');
      await page.evaluate((o) => window.setup(o), { baseUrl: proxy.url, lockTimeout: LOCK_TIMEOUT, ...options });
      pages.push(page);
    }
    return { context, pages };
  }
  const signUpAndIn = async (page) => {
    const email = `user${++users}@example.com`;
    await page.evaluate(
      async ([email, password]) => {
        await window.auth.signUp({ email, password, name: 'Browser User' });
        await window.auth.signIn({ email, password });
      },
      [email, PASSWORD],
    );
    return email;
  };
  const session = (page) => page.evaluate(() => window.auth.session);
  const me = (page, n = 1) =>
    page.evaluate(
      async ([n]) =>
        Promise.all(
          Array.from({ length: n }, async () => {
            const res = await window.auth.fetch(window.base + '/auth/me');
            return { status: res.status, body: await res.json() };
          }),
        ),
      [n],
    );
  const sameSession = (page, sid) => page.waitForFunction((sid) => window.auth.session?.sid === sid, sid);

  for (const mode of ['bearer', 'cookie']) {
    await t.test(`${mode} mode, edgeauth serve: sign-up, sign-in, /auth/me through fetch; nothing token-like in storage`, async () => {
      const { pages: [page] } = await tabs(1, { mode, baseUrl: serve.url });
      const seen = [];
      page.on('request', (r) => r.url().endsWith('/auth/me') && seen.push(r.headers()));
      const email = await signUpAndIn(page);
      const [r] = await me(page);
      assert.equal(r.status, 200);
      assert.equal(r.body.email, email);
      const claims = await session(page);
      assert.equal(claims.sub, r.body.id);
      assert.deepEqual(await page.evaluate(() => window.events), ['signed_in']);
      const auth = seen.at(-1).authorization;
      if (mode === 'bearer') assert.match(auth, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      else assert.equal(auth, undefined);

      const stored = await page.evaluate(async () => ({
        local: localStorage.length,
        session: sessionStorage.length,
        idb: (await indexedDB.databases()).length,
        caches: (await caches.keys()).length,
        cookie: document.cookie,
      }));
      assert.deepEqual(stored, { local: 0, session: 0, idb: 0, caches: 0, cookie: '' });
    });

    await t.test(`${mode} mode: two tabs, 20 calls each after expiry: all succeed, one refresh`, async () => {
      const { pages } = await tabs(2, { mode });
      await signUpAndIn(pages[0]);
      const { sid } = await session(pages[0]);
      await sameSession(pages[1], sid);
      await server.advance(EXPIRE);
      proxy.refreshes = 0;
      const results = (await Promise.all(pages.map((p) => me(p, 20)))).flat();
      assert.equal(results.length, 40);
      assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
      assert.equal(proxy.refreshes, 1);
      for (const page of pages) {
        assert.equal((await session(page)).sid, sid);
        assert.deepEqual(await page.evaluate(() => window.events), ['signed_in', 'token_refreshed']);
      }
    });
  }

  await t.test('sign-out in one tab reaches the other within a second', async () => {
    const { pages } = await tabs(2);
    await signUpAndIn(pages[0]);
    await sameSession(pages[1], (await session(pages[0])).sid);
    await pages[0].evaluate(() => window.auth.signOut());
    await pages[1].waitForFunction(() => window.events.includes('signed_out'), null, { timeout: 1000 });
    assert.equal(await session(pages[1]), null);
    const [r] = await me(pages[1]);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'missing_token');
  });

  await t.test('a revoked session signs every tab out without a refresh storm', async () => {
    const { pages } = await tabs(2);
    const email = await signUpAndIn(pages[0]);
    const { sid } = await session(pages[0]);
    await sameSession(pages[1], sid);
    // The user revokes the browser's session from another device.
    const other = await fetch(server.url + '/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    }).then((r) => r.json());
    const del = await fetch(`${server.url}/auth/sessions/${sid}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${other.access_token}` },
    });
    assert.equal(del.status, 204);
    proxy.refreshes = 0;
    const results = (await Promise.all(pages.map((p) => me(p, 20)))).flat();
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([401]));
    assert.equal(proxy.refreshes, 0);
    for (const page of pages) {
      await page.waitForFunction(() => window.auth.session === null && window.events.at(-1) === 'signed_out');
    }
  });

  await t.test('a frozen tab holding the refresh lock does not block the other tab beyond the bound', async () => {
    const { context, pages } = await tabs(2);
    await signUpAndIn(pages[0]);
    await sameSession(pages[1], (await session(pages[0])).sid);
    // Tab 0 takes the lock and never lets go; then the page is frozen.
    await pages[0].evaluate(async (name) => {
      await new Promise((held) => {
        // Rejected once the other tab steals the lock.
        navigator.locks.request(name, () => (held(), new Promise(() => {}))).catch(() => {});
      });
    }, 'edgeauth-refresh:' + proxy.url);
    const cdp = await context.newCDPSession(pages[0]);
    await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
    await server.advance(EXPIRE);
    proxy.refreshes = 0;
    // The lock is held forever: only the steal after the bound gets tab 1 through.
    const results = await me(pages[1], 5);
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    assert.equal(proxy.refreshes, 1);
    await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  });

  await t.test('without Web Locks and BroadcastChannel a tab still refreshes once for its calls', async () => {
    const hide = () => {
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
      delete window.BroadcastChannel;
    };
    const { pages: [page] } = await tabs(1, {}, hide);
    assert.equal(await page.evaluate(() => navigator.locks === undefined && !('BroadcastChannel' in window)), true);
    await signUpAndIn(page);
    await server.advance(EXPIRE);
    proxy.refreshes = 0;
    const results = await me(page, 20);
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
    assert.equal(proxy.refreshes, 1);
  });

  await t.test('no WebAssembly is requested', () => {
    assert.ok(requested.length > 0);
    assert.deepEqual(requested.filter((r) => /\.wasm(\?|$)/.test(r.url())).map((r) => r.url()), []);
  });
});
