// The built gate with a window into its isolate, for the workerd tests
// (never deployed): `GET /__probe` answers the wasm memory size, the
// externref table (JS values held by Rust: its length, and how many slots
// hold a value) and the closures registered for finalization; every other
// request goes to the gate unchanged.
import { seen } from './instrument.js';
import Gate from '../build/index.js';

function stats() {
  const { memory, __wbindgen_externrefs: table } = seen.exports ?? {};
  if (!(memory instanceof WebAssembly.Memory) || !(table instanceof WebAssembly.Table)) {
    throw new Error('probe: no wasm memory or __wbindgen_externrefs table export (has the wasm-bindgen glue changed?)');
  }
  let held = 0;
  for (let i = 0; i < table.length; i += 1) {
    const value = table.get(i);
    if (value !== undefined && value !== null) held += 1;
  }
  return {
    memoryBytes: memory.buffer.byteLength,
    tableLength: table.length,
    tableHeld: held,
    closures: seen.registered - seen.unregistered - seen.finalized,
    registered: seen.registered,
  };
}

export default class extends Gate {
  fetch(request) {
    if (new URL(request.url).pathname === '/__probe') return Response.json(stats());
    return super.fetch(request);
  }
}
