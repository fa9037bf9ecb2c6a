// Node entry point: instantiates the WebAssembly module synchronously at
// import, so the API is ready at once; init() exists for code shared with
// browsers and resolves immediately.
//
// node:fs comes from process.getBuiltinModule (Node >= 20.16) rather than
// `import ... from 'node:fs'`: the ES-module view of node:fs loads
// fs/promises and the streams with it, which cost about 2 ms of every start
// (docs/measurements.md, "Where the start-up time goes"). On an older runtime without
// it, the module is loaded asynchronously instead and init() must be
// awaited, as in browsers.
import { initSync } from '../dist/edgeauth_wasm.js';
import { markReady } from './api.js';

const wasmUrl = new URL('../dist/edgeauth_wasm_bg.wasm', import.meta.url);

function load({ readFileSync }) {
  initSync({ module: readFileSync(wasmUrl) });
  markReady();
}

const fs = process.getBuiltinModule?.('node:fs');
const ready = fs ? Promise.resolve(load(fs)) : import('node:fs').then(load);

/** Resolves once the package is ready (at once on Node >= 20.16). */
export async function init() {
  await ready;
}

export { authorize, RoutePolicy, Verifier, VerifyError, verifyGateAssertion } from './api.js';
