// Node unit tests: the pure helpers, and the client's refresh logic against
// a fake server (an injected fetch), without a browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createAuthClient, decodeClaims } from '../src/index.js';
import { problemCode, replayable, retryAfterMs } from '../src/util.js';

const b64url = (s) => Buffer.from(s).toString('base64url');
const jwt = (claims) => `${b64url('{"alg":"EdDSA","typ":"at+jwt"}')}.${b64url(JSON.stringify(claims))}.c2ln`;
const problem = (status, code, headers = {}) =>
  new Response(JSON.stringify({ status, code, detail: code }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });

test('decodeClaims reads base64url JSON payloads and nothing else', () => {
  const claims = { sub: 'u', sid: 's', name: 'Zoë ~?>', exp: 2 };
  assert.deepEqual(decodeClaims(jwt(claims)), claims);
  for (const bad of ['', 'abc', 'a.b.c', `x.${b64url('[1]')}.y`, `x.${b64url('null')}.y`, `x.${b64url('7')}.y`]) {
    assert.equal(decodeClaims(bad), null, bad);
  }
});

test('retryAfterMs takes seconds or an HTTP date, capped', () => {
  const now = Date.parse('2027-01-15T08:00:00Z');
  assert.equal(retryAfterMs('2', now, 30000), 2000);
  assert.equal(retryAfterMs(' 0 ', now, 30000), 0);
  assert.equal(retryAfterMs('120', now, 30000), 30000);
  assert.equal(retryAfterMs('Fri, 15 Jan 2027 08:00:05 GMT', now, 30000), 5000);
  assert.equal(retryAfterMs('Fri, 15 Jan 2027 07:00:00 GMT', now, 30000), 0);
  assert.equal(retryAfterMs(null, now, 30000), null);
  assert.equal(retryAfterMs('soon', now, 30000), null);
  assert.equal(retryAfterMs('-1', now, 30000), null);
});

test('replayable: buffered bodies yes, streams no', () => {
  for (const body of [undefined, null, 'x', new URLSearchParams('a=1'), new Blob(['x']), new FormData(), new ArrayBuffer(2), new Uint8Array(2)]) {
    assert.equal(replayable(body), true, String(body));
  }
  assert.equal(replayable(new ReadableStream()), false);
});

test('problemCode reads the code and leaves the body unread', async () => {
  const res = problem(401, 'expired');
  assert.equal(await problemCode(res), 'expired');
  assert.equal((await res.json()).code, 'expired');
  assert.equal(await problemCode(new Response('not json', { status: 500 })), null);
  assert.equal(await problemCode(new Response('{"code":5}')), null);
});

test('an unknown mode is refused', () => {
  assert.throws(() => createAuthClient({ baseUrl: 'https://a', mode: 'local', restore: false }), TypeError);
});

/** A fake edgeauth server behind an injected fetch, with a manual clock. */
function fakeServer() {
  const s = { now: 1_800_000_000_000, refreshes: 0, calls: [], refreshAnswers: [], iat: 0, sid: 'sid-1' };
  s.issue = () => {
    s.iat += 1;
    s.current = jwt({ sub: 'user-1', sid: s.sid, iat: s.iat, exp: s.iat + 900, roles: ['reader'] });
    return new Response(JSON.stringify({ access_token: s.current, token_type: 'Bearer', expires_in: 900, session_id: s.sid }), {
      headers: { 'content-type': 'application/json' },
    });
  };
  s.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const headers = new Headers(init.headers);
    const body = init.body instanceof ReadableStream ? 'stream' : init.body;
    s.calls.push({ url, method: init.method ?? 'GET', headers, credentials: init.credentials, body });
    const path = new URL(url).pathname;
    if (path === '/auth/token') return s.issue();
    if (path === '/auth/refresh') {
      s.refreshes++;
      await Promise.resolve();
      const answer = s.refreshAnswers.shift();
      return answer ? answer() : s.issue();
    }
    if (path === '/auth/logout') return new Response(null, { status: 204 });
    if (path === '/auth/register') return new Response(JSON.stringify({ user: { id: 'user-1' } }), { status: 201 });
    if (s.revoked) return problem(401, 'revoked');
    const auth = headers.get('authorization');
    const presented = auth ? auth.slice(7) : init.credentials === 'include' ? s.cookieToken ?? s.current : null;
    if (!presented) return problem(401, 'missing_token');
    if (presented !== s.current || s.expireAll) return problem(401, 'expired');
    return new Response(JSON.stringify({ ok: true, body: body ?? null }), { headers: { 'content-type': 'application/json' } });
  };
  s.client = (extra = {}) => {
    const events = [];
    const waits = [];
    const client = createAuthClient({
      baseUrl: 'https://auth.test/',
      restore: false,
      locks: null,
      channel: null,
      fetch: s.fetch,
      now: () => s.now,
      sleep: async (ms) => { waits.push(ms); },
      ...extra,
    });
    client.onAuthStateChange((event, session) => events.push([event, session?.sid ?? null]));
    return { client, events, waits };
  };
  return s;
}

test('signIn asks for cookie-only delivery, sends credentials, decodes the session', async () => {
  const s = fakeServer();
  const { client, events } = s.client();
  assert.equal(client.session, null);
  const session = await client.signIn({ email: 'a@example.com', password: 'pw' });
  const call = s.calls[0];
  assert.equal(call.url, 'https://auth.test/auth/token');
  assert.equal(call.headers.get('prefer'), 'refresh-token=cookie');
  assert.equal(call.headers.get('content-type'), 'application/json');
  assert.equal(call.credentials, 'include');
  assert.deepEqual(JSON.parse(call.body), { email: 'a@example.com', password: 'pw' });
  assert.equal(session.sub, 'user-1');
  assert.deepEqual(client.session.roles, ['reader']);
  assert.deepEqual(events, [['signed_in', 'sid-1']]);
});

test('signUp registers without signing in; errors carry the code', async () => {
  const s = fakeServer();
  const { client, events } = s.client();
  assert.deepEqual(await client.signUp({ email: 'a@example.com', password: 'pw', name: 'A' }), { id: 'user-1' });
  assert.deepEqual(JSON.parse(s.calls[0].body), { email: 'a@example.com', password: 'pw', name: 'A' });
  assert.deepEqual(events, []);
  const failing = createAuthClient({ baseUrl: 'https://auth.test', restore: false, channel: null, fetch: async () => problem(409, 'email_taken') });
  await assert.rejects(failing.signUp({ email: 'a@example.com', password: 'pw' }), { name: 'AuthError', status: 409, code: 'email_taken' });
});

test('fetch sends the bearer token; on 401 expired it refreshes once and replays the same body', async () => {
  const s = fakeServer();
  const { client, events } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  const ok = await client.fetch('https://api.test/things', { method: 'POST', body: 'payload' });
  assert.equal(ok.status, 200);
  assert.equal(s.calls.at(-1).headers.get('authorization'), `Bearer ${s.current}`);
  assert.equal(s.calls.at(-1).credentials, undefined);

  s.expireAll = true;
  s.refreshAnswers.push(() => { s.expireAll = false; return s.issue(); });
  const res = await client.fetch('https://api.test/things', { method: 'POST', body: 'payload' });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).body, 'payload');
  assert.equal(s.refreshes, 1);
  const refresh = s.calls.find((c) => c.url.endsWith('/auth/refresh'));
  assert.equal(refresh.credentials, 'include');
  assert.equal(refresh.headers.get('prefer'), 'refresh-token=cookie');
  assert.equal(refresh.headers.get('authorization'), null);
  assert.deepEqual(events.map((e) => e[0]), ['signed_in', 'token_refreshed']);
});

test('concurrent calls with an expired token share one refresh', async () => {
  const s = fakeServer();
  const { client } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  s.current = 'rotated-elsewhere';
  const results = await Promise.all(Array.from({ length: 20 }, () => client.fetch('https://api.test/x')));
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
  assert.equal(s.refreshes, 1);
});

test('it refreshes ahead of expires_in, before sending', async () => {
  const s = fakeServer();
  const { client } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  s.now += 880_000; // 20 s before expiry: inside the 30 s margin
  const before = s.current;
  const res = await client.fetch('https://api.test/x');
  assert.equal(res.status, 200);
  assert.equal(s.refreshes, 1);
  assert.notEqual(s.calls.at(-1).headers.get('authorization'), `Bearer ${before}`);
});

test('a stream body is not replayed: the 401 comes back, no refresh', async () => {
  const s = fakeServer();
  const { client } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  s.expireAll = true;
  const res = await client.fetch('https://api.test/x', { method: 'POST', body: new ReadableStream(), duplex: 'half' });
  assert.equal(res.status, 401);
  assert.equal(s.refreshes, 0);
});

for (const code of ['refresh_token_reused', 'invalid_refresh_token', 'revoked']) {
  test(`a refresh answered ${code} signs out and is not retried`, async () => {
    const s = fakeServer();
    const channel = { posted: [], postMessage(m) { this.posted.push(m); }, onmessage: null };
    const { client, events } = s.client({ channel });
    await client.signIn({ email: 'a', password: 'p' });
    s.expireAll = true;
    s.refreshAnswers.push(() => problem(401, code));
    const res = await client.fetch('https://api.test/x');
    assert.equal(res.status, 401);
    assert.equal(s.refreshes, 1);
    assert.equal(client.session, null);
    assert.deepEqual(events.map((e) => e[0]), ['signed_in', 'signed_out']);
    assert.deepEqual(channel.posted.at(-1), { type: 'signed_out', sid: 'sid-1' });
    await client.fetch('https://api.test/x');
    assert.equal(s.refreshes, 1);
  });
}

test('a 401 revoked from an API signs out at once, without a refresh', async () => {
  const s = fakeServer();
  const { client, events } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  s.revoked = true;
  assert.equal((await client.fetch('https://api.test/x')).status, 401);
  assert.equal(s.refreshes, 0);
  assert.deepEqual(events.map((e) => e[0]), ['signed_in', 'signed_out']);
});

test('503 with Retry-After is waited out a bounded number of times, without signing out', async () => {
  const s = fakeServer();
  const { client, waits, events } = s.client({ maxRetries: 2 });
  await client.signIn({ email: 'a', password: 'p' });
  s.expireAll = true;
  const busy = () => problem(503, 'server_busy', { 'retry-after': '1' });
  s.refreshAnswers.push(busy, () => { s.expireAll = false; return s.issue(); });
  assert.equal((await client.fetch('https://api.test/x')).status, 200);
  assert.deepEqual(waits.filter((w) => w === 1000), [1000]);

  s.expireAll = true;
  s.refreshAnswers.push(busy, busy, busy, busy);
  assert.equal((await client.fetch('https://api.test/x')).status, 401);
  assert.equal(s.refreshes, 2 + 3);
  assert.notEqual(client.session, null);
  assert.deepEqual(events.map((e) => e[0]), ['signed_in', 'token_refreshed']);
});

test('cookie mode: credentials instead of a header; missing_token refreshes too', async () => {
  const s = fakeServer();
  const { client } = s.client({ mode: 'cookie' });
  await client.signIn({ email: 'a', password: 'p' });
  assert.equal((await client.fetch('https://api.test/x')).status, 200);
  const call = s.calls.at(-1);
  assert.equal(call.credentials, 'include');
  assert.equal(call.headers.get('authorization'), null);
  s.cookieToken = '';
  s.refreshAnswers.push(() => { s.cookieToken = undefined; return s.issue(); });
  assert.equal((await client.fetch('https://api.test/x')).status, 200);
  assert.equal(s.refreshes, 1);
});

test('signOut revokes through the refresh cookie and signs out even when the call fails', async () => {
  const s = fakeServer();
  const { client, events } = s.client();
  await client.signIn({ email: 'a', password: 'p' });
  await client.signOut();
  const call = s.calls.at(-1);
  assert.equal(call.url, 'https://auth.test/auth/logout');
  assert.equal(call.credentials, 'include');
  assert.equal(client.session, null);
  assert.deepEqual(events.map((e) => e[0]), ['signed_in', 'signed_out']);

  const broken = s.client({ fetch: async (u, i) => (String(u).endsWith('/logout') ? Promise.reject(new TypeError('offline')) : s.fetch(u, i)) });
  await broken.client.signIn({ email: 'a', password: 'p' });
  await assert.rejects(broken.client.signOut(), TypeError);
  assert.equal(broken.client.session, null);
});

test('restore: a session comes back from the refresh cookie; without one, nothing happens', async () => {
  const s = fakeServer();
  const { client, events } = s.client({ restore: true });
  await client.ready;
  assert.equal(client.session.sid, 'sid-1');
  assert.deepEqual(events, [['signed_in', 'sid-1']]);

  const anonymous = fakeServer();
  anonymous.refreshAnswers.push(() => problem(401, 'invalid_refresh_token'));
  const channel = { posted: [], postMessage(m) { this.posted.push(m); }, onmessage: null };
  const other = anonymous.client({ restore: true, channel });
  await other.client.ready;
  assert.equal(other.client.session, null);
  assert.deepEqual(other.events, []);
  assert.deepEqual(channel.posted, [], 'no sign-out is broadcast for a session never held');
});

test('a sign-in while the start-up restore is under way is not undone by its failure', async () => {
  const s = fakeServer();
  let answer;
  s.refreshAnswers.push(() => new Promise((resolve) => (answer = resolve)));
  const { client, events } = s.client({ restore: true });
  await until(() => answer);
  await client.signIn({ email: 'a', password: 'p' });
  answer(problem(401, 'invalid_refresh_token'));
  await client.ready;
  assert.equal(client.session?.sid, 'sid-1');
  assert.deepEqual(events, [['signed_in', 'sid-1']]);
});

test('two clients on one channel and one lock manager: one refresh, sign-out reaches both', async (t) => {
  const s = fakeServer();
  const locks = fakeLocks();
  // Real waits here: the lock is kept a moment after a refresh, so that
  // the other client hears of it before it could take the lock.
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const channels = [new BroadcastChannel('unit'), new BroadcastChannel('unit')];
  t.after(() => channels.forEach((c) => c.close()));
  const a = s.client({ locks, channel: channels[0], sleep });
  const b = s.client({ locks, channel: channels[1], sleep });
  await a.client.signIn({ email: 'a', password: 'p' });
  await until(() => b.client.session !== null);
  assert.deepEqual(b.events, [['signed_in', 'sid-1']]);

  s.current = 'expired-for-everyone';
  const all = await Promise.all([a, b].flatMap(({ client }) => Array.from({ length: 10 }, () => client.fetch('https://api.test/x'))));
  assert.deepEqual(new Set(all.map((r) => r.status)), new Set([200]));
  assert.equal(s.refreshes, 1);

  await b.client.signOut();
  await until(() => a.client.session === null);
  assert.deepEqual(a.events.at(-1), ['signed_out', null]);
});

test('a lock held forever is stolen after the bound', async () => {
  const s = fakeServer();
  const locks = fakeLocks();
  locks.request('edgeauth-refresh:https://auth.test', {}, () => new Promise(() => {})).catch(() => {});
  const { client } = s.client({ locks, lockTimeout: 20 });
  await client.signIn({ email: 'a', password: 'p' });
  s.current = 'expired';
  assert.equal((await client.fetch('https://api.test/x')).status, 200);
  assert.equal(s.refreshes, 1);
  assert.equal(locks.stolen, 1);
});

test('a lock stolen from a tab while it refreshes does not make it refresh again', async () => {
  const s = fakeServer();
  const locks = fakeLocks();
  const { client } = s.client({ locks });
  await client.signIn({ email: 'a', password: 'p' });
  s.current = 'expired';
  s.refreshAnswers.push(() => {
    locks.request('edgeauth-refresh:https://auth.test', { steal: true }, () => {});
    return s.issue();
  });
  assert.equal((await client.fetch('https://api.test/x')).status, 200);
  assert.equal(s.refreshes, 1);
});

/** An in-memory exclusive lock manager with `signal` and `steal`. */
function fakeLocks() {
  const queues = new Map();
  const m = { stolen: 0 };
  const grant = (name) => {
    const q = queues.get(name);
    if (!q.held && q.waiting.length) run(name, q.waiting.shift());
  };
  const run = (name, w) => {
    const q = queues.get(name);
    q.held = w;
    Promise.resolve()
      .then(w.callback)
      .then(w.resolve, w.reject)
      .finally(() => { if (q.held === w) { q.held = null; grant(name); } });
  };
  m.request = (name, options, callback) =>
    new Promise((resolve, reject) => {
      if (!queues.has(name)) queues.set(name, { held: null, waiting: [] });
      const q = queues.get(name);
      const w = { callback, resolve, reject };
      if (options.steal) {
        m.stolen++;
        q.held?.reject(new DOMException('stolen', 'AbortError'));
        q.held = null;
        return run(name, w);
      }
      options.signal?.addEventListener('abort', () => {
        const i = q.waiting.indexOf(w);
        if (i >= 0) { q.waiting.splice(i, 1); reject(new DOMException('aborted', 'AbortError')); }
      });
      q.waiting.push(w);
      grant(name);
    });
  return m;
}

async function until(predicate) {
  while (!predicate()) await new Promise((r) => setTimeout(r, 1));
}
