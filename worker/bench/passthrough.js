// Benchmark baseline (c): a Worker that only forwards every request to the
// origin, with method, path, query, headers and body unchanged.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new Request(env.ORIGIN + url.pathname + url.search, request));
  },
};
