// @edgeauth/client: sign-in, transparent refresh across tabs and sign-out
// everywhere against an edgeauth server, for web apps. No dependencies.
//
// The refresh token lives only in the server's HttpOnly refresh cookie: the
// client asks for cookie-only delivery (`Prefer: refresh-token=cookie`) and
// always refreshes with credentials. The access token lives in memory (and,
// in cookie mode, in the access cookie). Nothing is written to storage.

import { FATAL, PREFER, decodeClaims, problemCode, replayable, retryAfterMs } from './util.js';

export { decodeClaims };

/** A failed call of the auth server, with its problem+json `code`. */
export class AuthError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.name = 'AuthError';
    this.status = status;
    this.code = code;
  }
}

export function createAuthClient(options) {
  const base = String(options.baseUrl).replace(/\/+$/, '');
  const cookieMode = options.mode === 'cookie';
  if (!cookieMode && (options.mode ?? 'bearer') !== 'bearer') throw new TypeError("mode must be 'bearer' or 'cookie'");
  const g = globalThis;
  const send = options.fetch ?? ((...a) => g.fetch(...a));
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  const locks = options.locks !== undefined ? options.locks : g.navigator?.locks;
  const lockName = 'edgeauth-refresh:' + base;
  const lockWait = options.lockTimeout ?? 5000;
  const retries = options.maxRetries ?? 3;
  const maxWait = options.maxRetryWait ?? 30000;
  let channel = options.channel;
  if (channel === undefined) channel = g.BroadcastChannel ? new g.BroadcastChannel(lockName) : null;

  let token = null;
  let claims = null;
  let expiresAt = 0;
  let ahead = 0;
  let gen = 0; // counts state changes, so a waiting refresh sees another tab's result
  let inflight = null;
  const listeners = new Set();
  const wakers = new Set();

  const emit = (event) => {
    for (const f of [...listeners]) {
      try {
        f(event, claims);
      } catch (e) {
        setTimeout(() => { throw e; });
      }
    }
  };
  const post = (m) => {
    try {
      channel?.postMessage(m);
    } catch {}
  };
  const changed = () => {
    gen++;
    for (const w of [...wakers]) w();
  };

  function adopt(t, until, share) {
    const c = decodeClaims(t);
    const event = claims && c && claims.sid === c?.sid ? 'token_refreshed' : 'signed_in';
    token = t;
    claims = c;
    expiresAt = until;
    ahead = Math.min(30000, (until - now()) / 2);
    if (share) post({ type: 'token', token: t, expiresAt: until });
    changed();
    emit(event);
  }

  function clear(share) {
    const sid = claims?.sid;
    const had = token !== null;
    token = claims = null;
    expiresAt = 0;
    if (share && sid) post({ type: 'signed_out', sid });
    changed();
    if (had) emit('signed_out');
  }

  if (channel) {
    channel.onmessage = ({ data: m }) => {
      if (m?.type === 'token' && m.token !== token) {
        const c = decodeClaims(m.token);
        if (c && (!claims || c.iat >= claims.iat)) adopt(m.token, m.expiresAt, false);
      } else if (m?.type === 'signed_out' && claims && m.sid === claims.sid) {
        clear(false);
      }
    };
  }

  // A call of the auth server: credentials always, cookie-only delivery,
  // and a 503 with Retry-After waited out a bounded number of times.
  async function call(path, init = {}) {
    const headers = new Headers(init.headers);
    headers.set(...PREFER);
    for (let attempt = 0; ; attempt++) {
      const res = await send(base + path, { ...init, headers, credentials: 'include' });
      const wait = res.status == 503 ? retryAfterMs(res.headers.get('Retry-After'), now(), maxWait) : null;
      if (wait == null || attempt >= retries) return res;
      await sleep(wait);
    }
  }

  const fail = async (res) => {
    let body = {};
    try {
      body = await res.json();
    } catch {}
    return new AuthError(res.status, body.code ?? null, body.detail);
  };

  async function grant(res) {
    if (!res.ok) throw await fail(res);
    const body = await res.json();
    adopt(body.access_token, now() + body.expires_in * 1000, true);
    return claims;
  }

  const fresh = () => token !== null && now() < expiresAt - ahead;

  // One refresh at a time in this tab; across tabs one at a time under the
  // lock, and a tab that waited takes the result another tab broadcast.
  function refresh() {
    return (inflight ??= refreshShared().finally(() => (inflight = null)));
  }

  async function refreshShared() {
    const seen = gen;
    if (!locks) return refreshNow();
    let job;
    const under = () =>
      (job ??= (async () => {
        if (gen !== seen) return token;
        const t = await refreshNow();
        // Keep the lock a moment, so the broadcast reaches the other tabs
        // before one of them could take the lock and refresh again.
        await sleep(100);
        return t;
      })());
    // A lock taken from us while we refresh: our refresh still counts.
    const ours = (e) => {
      if (job) return job;
      throw e;
    };
    const stop = new AbortController();
    const wake = () => stop.abort();
    const timer = setTimeout(wake, lockWait);
    wakers.add(wake);
    try {
      return await locks.request(lockName, { signal: stop.signal }, under).catch(ours);
    } catch (e) {
      if (e?.name !== 'AbortError') throw e;
      if (gen !== seen) return token;
      // The holder did not finish within the bound (a frozen or crashed
      // tab): take the lock from it.
      return await locks.request(lockName, { steal: true }, under).catch(ours);
    } finally {
      clearTimeout(timer);
      wakers.delete(wake);
    }
  }

  async function refreshNow() {
    const before = gen;
    const res = await call('/auth/refresh', { method: 'POST' });
    // A sign-in or sign-out meanwhile wins over this answer.
    if (gen !== before) return token;
    if (res.ok) {
      await grant(res);
      return token;
    }
    const code = await problemCode(res);
    if (FATAL.has(code)) clear(true);
    return null;
  }

  const refreshQuietly = () => refresh().catch(() => null);
  const ready = options.restore === false ? Promise.resolve() : refreshQuietly();

  function attempt(input, init, body) {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!cookieMode && token && !headers.has('Authorization')) headers.set('Authorization', 'Bearer ' + token);
    const req = input instanceof Request ? input.clone() : input;
    const opts = { ...init, headers };
    if (body !== undefined) opts.body = body;
    if (cookieMode) opts.credentials = 'include';
    return send(req, opts);
  }

  async function authFetch(input, init = {}) {
    await ready;
    if (token !== null && !fresh()) await refreshQuietly();
    const used = token;
    const retry = replayable(init.body);
    const first = await attempt(input, init);
    if (first.status != 401 || used === null) return first;
    const code = await problemCode(first);
    if (code === 'revoked' && token === used) clear(true);
    const stale = code === 'expired' || (cookieMode && code === 'missing_token');
    if (!retry || !stale) return first;
    if (token === used) await refreshQuietly();
    if (token === null || token === used) return first;
    return attempt(input, init);
  }

  return {
    get session() {
      return claims;
    },
    ready,
    fetch: authFetch,
    async signUp({ email, password, name }) {
      const res = await call('/auth/register', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(name == null ? { email, password } : { email, password, name }),
      });
      if (!res.ok) throw await fail(res);
      return (await res.json()).user;
    },
    async signIn({ email, password }) {
      return grant(
        await call('/auth/token', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email, password }),
        }),
      );
    },
    async signOut() {
      try {
        await call('/auth/logout', { method: 'POST' });
      } finally {
        clear(true);
      }
    },
    onAuthStateChange(f) {
      listeners.add(f);
      return () => listeners.delete(f);
    },
  };
}
