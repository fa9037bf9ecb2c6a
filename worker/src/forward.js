// The Worker's forwarding step, in JavaScript so that the request's headers
// are scanned without a call across the wasm boundary for each one
// (src/lib.rs calls it; the gate in Rust decides, this only carries out).

/**
 * `new Request(url, request)`: `url` is the one the gate chose (the origin's
 * base, the core's canonical path, the query as sent), never the incoming
 * path; the method, headers, body stream and redirect mode (manual, for an
 * incoming request) carry over; the copy's headers are ours to change. Every header `strip(name)` names is removed: the gate's
 * `X-Edgeauth-*` headers and method overrides under any spelling
 * (`strips_header` in src/gate.rs). Only names containing `edgeauth` or
 * `method` are asked about (`Headers` yields lowercase names, and every
 * such spelling contains one of them), so most requests cross into wasm
 * for none.
 */
export function outbound(request, url, strip) {
  const copy = new Request(url, request);
  const headers = copy.headers;
  let spoofed;
  for (const name of headers.keys()) {
    if ((name.includes('edgeauth') || name.includes('method')) && strip(name)) {
      (spoofed ??= []).push(name);
    }
  }
  if (spoofed !== undefined) for (const name of spoofed) headers.delete(name);
  return copy;
}

/**
 * Sends `request`; a failed fetch (rejected, or thrown at once) becomes
 * `onError(error)`'s answer. Redirects are not followed: the copy keeps the
 * incoming request's `redirect: "manual"`.
 */
export function send(request, onError) {
  try {
    return fetch(request).catch(onError);
  } catch (error) {
    return Promise.resolve(onError(error));
  }
}
