// Copies the runtime files the page loads out of node_modules into vendor/, and lists them in
// vendor/files.json for the service worker's offline cache. Run after `npm install`:
//
//   cd apps/web && npm install --ignore-scripts && node build.mjs      (or: make web)
//
// vendor/ ends up in the Python wheel (fashion-edge serve ships the page), so it holds only what
// the page loads: one LiteRT.js WebAssembly build of the four (see model.js), onnxruntime-web's
// plain WebAssembly backend (no WebGPU/WebNN build) and MediaPipe Tasks' vision bundle with its SIMD
// WebAssembly fileset (not the no-SIMD or ES-module-worker builds: mediapipe.js names the fileset
// itself), no source maps.
//
// MediaPipe Tasks posts usage statistics (task name, running mode, platform, latencies) to a Google
// endpoint once a minute and when a task closes. The page promises that nothing leaves the device,
// so the copy in vendor/ has that logger switched off: PATCHES below, each of which must match the
// pinned version's code exactly once or the build stops. files.json records the change.
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
  ["@mediapipe/tasks-vision/vision_bundle.mjs", "vision_bundle.mjs"],
  ["@mediapipe/tasks-vision/wasm/vision_wasm_internal.js", "vision_wasm_internal.js"],
  ["@mediapipe/tasks-vision/wasm/vision_wasm_internal.wasm", "vision_wasm_internal.wasm"],
];
const PACKAGES = ["@litertjs/core", "@litertjs/wasm-utils", "onnxruntime-web", "@mediapipe/tasks-vision"];

// [name in vendor/, exact text, replacement]: MediaPipe's usage logger (class with a 60 s flush
// timer that POSTs to odml.pa.googleapis.com) never starts its timer and drops what it queued.
const PATCHES = [
  ["vision_bundle.mjs", "this.h=setInterval(()=>{this.flush()},6e4)", "this.h=void 0"],
  ["vision_bundle.mjs", "flush(t,e){if(this.error)", "flush(t,e){if(this.i=[],!0)t?.();else if(this.error)"],
];
const PATCHED = { "vision_bundle.mjs": "usage logging to odml.pa.googleapis.com switched off (build.mjs PATCHES)" };

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
for (const [source, name] of FILES) copyFileSync(join(modules, source), join(vendor, name));
for (const [name, find, replace] of PATCHES) {
  const text = readFileSync(join(vendor, name), "utf8");
  const found = text.split(find).length - 1;
  if (found !== 1) {
    console.error(`vendor/${name}: expected ${JSON.stringify(find)} once, found it ${found} times: `
      + "this version's code differs from the one PATCHES was written for; check its usage logger again");
    process.exit(1);
  }
  writeFileSync(join(vendor, name), text.replace(find, replace));
}
for (const [, name] of FILES) {
  files.push({ file: name, bytes: statSync(join(vendor, name)).size, ...(PATCHED[name] && { patched: PATCHED[name] }) });
}
// No package ships a licence file to copy: LiteRT.js and MediaPipe Tasks are Apache-2.0, onnxruntime-web MIT.
const licenses = { "@litertjs/core": "Apache-2.0", "@litertjs/wasm-utils": "Apache-2.0", "onnxruntime-web": "MIT",
  "@mediapipe/tasks-vision": "Apache-2.0" };
writeFileSync(join(vendor, "files.json"), JSON.stringify({ versions, licenses, files }, null, 2) + "\n");
const total = files.reduce((sum, f) => sum + f.bytes, 0);
console.log(`vendor/: ${files.length} files, ${(total / 1e6).toFixed(1)} MB (${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(", ")})`);
