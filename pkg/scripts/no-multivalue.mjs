// node scripts/no-multivalue.mjs IN.wasm OUT.wasm
//
// Copies the module that rustc linked, marking the `multivalue` feature as
// not used in its `target_features` section, so that wasm-bindgen keeps
// results that do not fit one value (strings, Results) behind a return
// pointer instead of rewriting those exports to return several values.
//
// Why (docs/measurements.md, npm package, "Where the start-up time goes"): V8 11 (Node 20)
// can call an export through its generic JS-to-wasm wrapper only when the
// export returns at most one value; for every other signature it compiles a
// wrapper with TurboFan when the module is compiled. The multi-value exports
// made that seven TurboFan compilations, about 2 ms of every start-up.
//
// The section is only a record: rustc enables multivalue for wasm32 by
// default, but the Rust ABI does not return several values, so the module
// has no function type with more than one result. This script checks that
// and refuses to mark a feature the code uses.
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: no-multivalue.mjs IN.wasm OUT.wasm');
const bytes = readFileSync(input);

let at = 8; // after the magic number and version
const u32 = () => {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return value >>> 0;
};
const skipValType = () => {
  const t = bytes[at++];
  // (ref null? heaptype): the heap type is a signed LEB128 or a short code.
  if (t === 0x63 || t === 0x64) u32();
};

let marked = false;
while (at < bytes.length) {
  const id = bytes[at++];
  const size = u32();
  const end = at + size;
  if (id === 1) {
    // Type section: refuse if any function type has several results.
    const count = u32();
    for (let i = 0; i < count; i++) {
      if (bytes[at++] !== 0x60) throw new Error('no-multivalue: unexpected type form');
      const params = u32();
      for (let j = 0; j < params; j++) skipValType();
      const results = u32();
      if (results > 1) throw new Error('no-multivalue: the module returns several values; keep multivalue');
      for (let j = 0; j < results; j++) skipValType();
    }
  } else if (id === 0) {
    const nameLength = u32();
    const name = bytes.toString('utf8', at, at + nameLength);
    at += nameLength;
    if (name === 'target_features') {
      const count = u32();
      for (let i = 0; i < count; i++) {
        const prefixAt = at++;
        const length = u32();
        if (bytes.toString('utf8', at, at + length) === 'multivalue') {
          bytes[prefixAt] = 0x2d; // '-': not used
          marked = true;
        }
        at += length;
      }
    }
  }
  at = end;
}
if (!marked) throw new Error('no-multivalue: no multivalue entry in target_features');
writeFileSync(output, bytes);
