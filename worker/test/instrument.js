// Imported before the built Worker (test/probe.js): keeps the wasm
// instance's exports as the shim creates them, and counts what is
// registered with a FinalizationRegistry (wasm-bindgen's closures).
export const seen = { exports: null, registered: 0, unregistered: 0, finalized: 0 };

const Instance = WebAssembly.Instance;
WebAssembly.Instance = function instance(module, imports) {
  const created = new Instance(module, imports);
  seen.exports = created.exports;
  return created;
};
WebAssembly.Instance.prototype = Instance.prototype;

if (globalThis.FinalizationRegistry) {
  const Registry = globalThis.FinalizationRegistry;
  globalThis.FinalizationRegistry = class extends Registry {
    constructor(cleanup) {
      super((held) => {
        seen.finalized += 1;
        cleanup(held);
      });
    }

    register(target, held, token) {
      seen.registered += 1;
      return super.register(target, held, token);
    }

    unregister(token) {
      const removed = super.unregister(token);
      if (removed) seen.unregistered += 1;
      return removed;
    }
  };
}
