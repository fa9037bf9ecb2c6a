// A real browser: headless Chromium (Debian's package, driven by
// playwright-core) loads a page that imports the package's web build,
// verifies vector tokens and shows the results; we assert on what it shows.
// Twice: unbundled (an import map names src/web.js), and bundled by esbuild
// (the way an application ships it, the .wasm copied next to the bundle).
// Skipped when /usr/bin/chromium is missing, unless EDGEAUTH_REQUIRE_BROWSER=1
// (scripts/test-pkg.sh installs Chromium and sets it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { valid } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.EDGEAUTH_REQUIRE_BROWSER === '1';
const pkgDir = new URL('../', import.meta.url);
const routes = [
  ['/pkg/', pkgDir],
  ['/vectors/', new URL('../../tests/vectors/', import.meta.url)],
];

/** Bundles test/browser/page.js for browsers; serves it under /bundle/. */
async function bundle(t) {
  const dir = await mkdtemp(join(tmpdir(), 'edgeauth-bundle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await build({
    entryPoints: [fileURLToPath(new URL('browser/page.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    logLevel: 'silent',
  });
  await copyFile(new URL('dist/edgeauth_wasm_bg.wasm', pkgDir), join(dir, 'edgeauth_wasm_bg.wasm'));
  routes.push(['/bundle/', new URL(`file://${dir}/`)]);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves the package and the vectors on 127.0.0.1, read-only. */
async function staticServer() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const route = routes.find(([prefix]) => path.startsWith(prefix));
    const file = route && new URL(path.slice(route[0].length), route[1]);
    if (!file || path.includes('..') || !fileURLToPath(file).startsWith(fileURLToPath(route[1]))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const skip = !required && !existsSync(CHROMIUM) && `${CHROMIUM} missing`;

test('headless Chromium verifies vector tokens with the web build, unbundled and bundled', { skip }, async (t) => {
  await bundle(t);
  const server = await staticServer();
  t.after(() => server.close());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  t.after(() => browser.close());
  const { sub, roles } = valid.expect.claims;
  for (const page of ['index.html', 'bundle.html']) {
    await t.test(page, async () => {
      const tab = await browser.newPage();
      const errors = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`http://127.0.0.1:${server.address().port}/pkg/test/browser/${page}`);
      await tab.waitForFunction(() => document.getElementById('route').textContent !== 'pending', null, {
        timeout: 20_000,
      });
      const shown = async (id) => tab.locator(`#${id}`).textContent();
      assert.equal(await shown('valid'), `sub ${sub} roles ${roles.join(',')}`);
      assert.equal(await shown('expired'), 'VerifyError expired');
      assert.equal(await shown('route'), 'VerifyError insufficient_role');
      assert.deepEqual(errors, []);
      await tab.close();
    });
  }
});
