// Node entry point: instantiates the WebAssembly module synchronously at
// import, so the API is ready at once; init() exists for code shared with
// browsers and resolves immediately.
import { readFileSync } from 'node:fs';
import { initSync } from '../dist/edgeauth_wasm.js';
import { markReady } from './api.js';

initSync({ module: readFileSync(new URL('../dist/edgeauth_wasm_bg.wasm', import.meta.url)) });
markReady();

/** Resolves once the package is ready (in Node: at once). */
export async function init() {}

export { authorize, RoutePolicy, Verifier, VerifyError } from './api.js';
