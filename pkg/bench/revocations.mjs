// What a revocation feed costs verify() (docs/measurements.md, npm
// package, "Revocation feed"): two verifiers from Verifier.fromJwksUrl on
// the same local JWKS, one also with `revocationsUrl` serving a feed of
// 1,000 revoked sessions (signed with the vector key, as the server signs
// it), verify the vector token, uncached (cacheSize 0) and cached, in
// interleaved batches of process CPU time. Printed: the median CPU µs per
// verification of each, and the median (and range) of the per-round ratios
// with a feed to without. Budget: <= 1.05x.
//
//   npm run build && node bench/revocations.mjs [--rounds N] [--entries N]
import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import { Verifier } from '@edgeauth/verify';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const ROUNDS = option('rounds', 31);
const ENTRIES = option('entries', 1000);
const ROUND_MS = 60;

const tokens = JSON.parse(readFileSync(new URL('../../tests/vectors/tokens.json', import.meta.url), 'utf8'));
const valid = tokens.cases.find((c) => c.name === 'valid');
const now = valid.now;
const k1 = tokens.jwks.keys.find((k) => k.kid === 'k1');
// The vector keys' seeds (crates/edgeauth-core/examples/gen-vectors.rs).
const seed = createHash('sha512').update('edgeauth test vector key 1').digest().subarray(0, 32);
const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k1.x, d: seed.toString('base64url') }, format: 'jwk' });

const part = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const sids = Array.from({ length: ENTRIES }, () => randomUUID()).sort();
const input = `${part({ alg: 'EdDSA', kid: 'k1', typ: 'revocations+jwt' })}.${part({ iss: tokens.issuer, iat: now, exp: now + 300, sids })}`;
const feed = `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;

const server = createServer((req, res) => {
  const body = req.url === '/jwks' ? JSON.stringify(tokens.jwks) : feed;
  res.writeHead(200, { 'cache-control': 'public, max-age=60' }).end(body);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const base = `http://127.0.0.1:${server.address().port}`;

const make = (cacheSize, withFeed) =>
  Verifier.fromJwksUrl(`${base}/jwks`, {
    issuer: tokens.issuer,
    audience: tokens.audience,
    cacheSize,
    clock: () => now,
    ...(withFeed ? { revocationsUrl: `${base}/revocations` } : {}),
  });
const contenders = [
  ['uncached, no feed', await make(0, false)],
  [`uncached, ${ENTRIES}-entry feed`, await make(0, true)],
  ['cached, no feed', await make(1024, false)],
  [`cached, ${ENTRIES}-entry feed`, await make(1024, true)],
];
server.closeAllConnections();
server.close();
for (const [, v] of contenders) v.verify(valid.token, now);

/** CPU µs per verification over a batch of about ROUND_MS. */
function batch(verifier, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) verifier.verify(valid.token, now);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}
// Batch sizes: about ROUND_MS of CPU each.
const sizes = contenders.map(([, v]) => {
  const us = batch(v, 200);
  return Math.max(50, Math.round((ROUND_MS * 1000) / us));
});

const results = contenders.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < contenders.length; i++) {
    const j = (i + round) % contenders.length;
    results[j].push(batch(contenders[j][1], sizes[j]));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios = (a, b) => results[b].map((x, r) => x / results[a][r]);

console.log(`${ROUNDS} interleaved rounds of about ${ROUND_MS} ms each; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`feed: ${ENTRIES} session ids, ${feed.length} bytes raw, ${gzipSync(feed, { level: 9 }).length} bytes gzip -9\n`);
console.log('| verify() | CPU µs / verification | with the feed / without (range over rounds) |');
console.log('|---|---:|---:|');
for (const [a, b] of [[0, 1], [2, 3]]) {
  const r = ratios(a, b);
  console.log(`| ${contenders[a][0]} | ${median(results[a]).toFixed(2)} | |`);
  console.log(
    `| ${contenders[b][0]} | ${median(results[b]).toFixed(2)} | ${median(r).toFixed(3)}x (${Math.min(...r).toFixed(2)}..${Math.max(...r).toFixed(2)}) |`,
  );
}
