// LiteRT.js (@litertjs/core) under Node.js. The package targets browsers: it loads its WebAssembly
// runtime by injecting a <script> (or importScripts in a worker) that sets self.ModuleFactory. In
// Node we provide what that script expects (self, importScripts, require, __dirname) and hand it
// the .wasm bytes directly. The "compat" build is used because Node 20's V8 runs relaxed-SIMD
// WebAssembly only behind a flag. CPU (XNNPACK in wasm) only: Node has no WebGPU.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vm from "node:vm";

const WASM_DIR = new URL("./node_modules/@litertjs/core/wasm/", import.meta.url);
const BUILD = "litert_wasm_compat_internal";

let core;

export async function loadLiteRtForNode() {
  if (core) return core;
  globalThis.self ??= globalThis;
  globalThis.require ??= createRequire(import.meta.url);
  globalThis.__dirname ??= new URL(".", WASM_DIR).pathname;
  globalThis.importScripts = (url) => {
    const file = new URL(url, WASM_DIR);
    vm.runInThisContext(readFileSync(file, "utf8"), { filename: file.pathname });
  };
  globalThis.Module = { wasmBinary: readFileSync(new URL(`${BUILD}.wasm`, WASM_DIR)) };
  core = await import("@litertjs/core");
  await core.loadLiteRt(new URL(`${BUILD}.js`, WASM_DIR).href);
  return core;
}

// One .tflite file as a function: typed array of one preprocessed image -> raw output typed array.
export async function liteRtRunner(bytes) {
  const litert = await loadLiteRtForNode();
  const model = await litert.loadAndCompile(new Uint8Array(bytes), { accelerator: "wasm" });
  return async (data, shape) => {
    const input = new litert.Tensor(data, shape);
    const [output] = await model.run([input]);
    const values = output.toTypedArray().slice();
    input.delete();
    output.delete();
    return values;
  };
}
