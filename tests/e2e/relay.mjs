// A loopback relay in front of the issuing server's /.well-known documents
// (or a fake issuer), for the revocation tests: it counts the fetches of
// the JWKS and of the revocation feed, can play dead, and can answer a feed
// of the test's making instead of the server's. With the tests' helpers to
// ask the gate and the package about a token.
//
//   const relay = await startRelay(upstreamUrl);
//   relay.jwksUrl, relay.revocationsUrl      // give these to the gate and the package
//   relay.state.feedFetches, relay.state.jwksFetches
//   relay.state.down = true                  // every fetch fails (the connection is dropped)
//   relay.state.feed = text                  // answer this feed (max-age relay.state.maxAge)

import { createServer } from 'node:http';

export async function startRelay(upstream) {
  const state = { jwksFetches: 0, feedFetches: 0, down: false, feed: null, maxAge: 1 };
  const server = createServer(async (req, res) => {
    const path = req.url === '/jwks.json' ? '/.well-known/jwks.json' : req.url === '/revocations' ? '/.well-known/revocations' : null;
    if (path === null) {
      res.writeHead(404).end();
      return;
    }
    if (path.endsWith('jwks.json')) state.jwksFetches += 1;
    else state.feedFetches += 1;
    if (state.down) {
      req.socket.destroy();
      return;
    }
    if (state.feed !== null && path.endsWith('revocations')) {
      res.writeHead(200, {
        'content-type': 'application/revocations+jwt',
        'cache-control': `public, max-age=${state.maxAge}`,
      });
      res.end(state.feed);
      return;
    }
    try {
      const answer = await fetch(upstream + path);
      const headers = {};
      for (const name of ['content-type', 'cache-control', 'etag']) {
        const value = answer.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      res.writeHead(answer.status, headers).end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      req.socket.destroy();
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    state,
    jwksUrl: `${url}/jwks.json`,
    revocationsUrl: `${url}/revocations`,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

/** What the gate answers a GET of `url` with `token`: 'pass' (200) or the problem's code. */
export async function gateCode(url, token) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 200) {
    await res.arrayBuffer();
    return 'pass';
  }
  return (await res.json()).code;
}

/** What `verifier.verifyAsync(token)` comes to: 'pass' or the VerifyError's code. */
export async function packageCode(verifier, token) {
  try {
    await verifier.verifyAsync(token);
    return 'pass';
  } catch (error) {
    if (error?.name === 'VerifyError') return error.code;
    throw error;
  }
}

/** Polls `check` (an async function answering true when done) until it answers true or `ms` have passed. */
export async function within(ms, check, every = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((ok) => setTimeout(ok, every));
  }
}
