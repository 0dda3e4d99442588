// Copies the runtime files the page loads out of node_modules into vendor/, and lists them in
// vendor/files.json for the service worker's offline cache. Run after `npm install`:
//
//   cd apps/web && npm install --ignore-scripts && node build.mjs      (or: make web)
//
// vendor/ ends up in the Python wheel (fashion-edge serve ships the page), so it holds only what
// the page loads: one LiteRT.js WebAssembly build of the four (see model.js) and onnxruntime-web's
// plain WebAssembly backend (no WebGPU/WebNN build), no source maps.
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const vendor = join(here, "vendor");

// [source under node_modules, name in vendor/]
const FILES = [
  ["@litertjs/core/dist/index.js", "litert-core.js"],
  ["@litertjs/wasm-utils/dist/index.js", "litert-wasm-utils.js"],     // imported as @litertjs/wasm-utils (import map)
  ["@litertjs/core/wasm/litert_wasm_compat_internal.js", "litert_wasm_compat_internal.js"],
  ["@litertjs/core/wasm/litert_wasm_compat_internal.wasm", "litert_wasm_compat_internal.wasm"],
  ["onnxruntime-web/dist/ort.wasm.min.mjs", "ort.wasm.min.mjs"],
  ["onnxruntime-web/dist/ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.mjs"],
  ["onnxruntime-web/dist/ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.wasm"],
];
const PACKAGES = ["@litertjs/core", "@litertjs/wasm-utils", "onnxruntime-web"];

const versions = {};
for (const name of PACKAGES) {
  try {
    versions[name] = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")).version;
  } catch {
    console.error(`${name} is not installed: run \`npm install --ignore-scripts\` in ${here} first`);
    process.exit(1);
  }
}

rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor);
const files = [];
for (const [source, name] of FILES) {
  copyFileSync(join(modules, source), join(vendor, name));
  files.push({ file: name, bytes: statSync(join(vendor, name)).size });
}
// Neither package ships a licence file to copy: LiteRT.js is Apache-2.0, onnxruntime-web MIT.
const licenses = { "@litertjs/core": "Apache-2.0", "@litertjs/wasm-utils": "Apache-2.0", "onnxruntime-web": "MIT" };
writeFileSync(join(vendor, "files.json"), JSON.stringify({ versions, licenses, files }, null, 2) + "\n");
const total = files.reduce((sum, f) => sum + f.bytes, 0);
console.log(`vendor/: ${files.length} files, ${(total / 1e6).toFixed(1)} MB (${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(", ")})`);
