// Browser and bundler entry point: `await init()` once before using the
// API. By default the module is fetched from next to this package's
// JavaScript (bundlers pick the file up through `new URL(..., import.meta.url)`);
// pass a URL, Response, BufferSource or WebAssembly.Module to load it from
// elsewhere.
import instantiate from '../dist/edgeauth_wasm.js';
import { markReady } from './api.js';

let ready = null;

/** Loads and instantiates the WebAssembly module, once. */
export function init(moduleOrPath) {
  ready ??= instantiate(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).then(
    () => markReady(),
    (error) => {
      ready = null; // a failed load may be retried
      throw error;
    },
  );
  return ready;
}

export { authorize, RoutePolicy, Verifier, VerifyError, verifyGateAssertion } from './api.js';
