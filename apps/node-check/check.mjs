// Loads a fashion-edge bundle the way an app would: manifest.json for files, hashes, input contract,
// quantization and tolerances; golden.json for inputs and expected outputs. Runs every format: ONNX
// and ORT-format (ONNX Runtime Mobile) files on onnxruntime-node, TFLite files on LiteRT.js
// (@litertjs/core, WebAssembly CPU). Then runs this app's own JavaScript port of the preprocessing
// (preprocess.mjs) on the bundle's preprocessing vectors (encoded photos). Exits non-zero unless each
// format matches (dequantized logits within golden_atol, same top-1) and each photo's 28x28 pixels are
// within the vectors' tolerance.
//
//   node check.mjs [path/to/bundle]        (default: $FASHION_EDGE_BUNDLE or ../../artifacts/edge/bundle)
//   npm test -- path/to/bundle
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";

import { liteRtRunner } from "./litert-node.mjs";
import { preprocess } from "./preprocess.mjs";

const bundle = process.argv[2] || process.env.FASHION_EDGE_BUNDLE || new URL("../../artifacts/edge/bundle", import.meta.url).pathname;
if (!existsSync(join(bundle, "manifest.json"))) {
  console.error(`usage: node check.mjs BUNDLE (no manifest.json in ${bundle}; export one with fashion-edge export)`);
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const golden = JSON.parse(readFileSync(join(bundle, "golden.json"), "utf8"));
if (manifest.input.preprocessing !== golden.preprocessing) throw new Error("preprocessing ids differ");

const [, height, width, channels] = manifest.input.shape; // NHWC, batch of one
const images = golden.images; // uint8 pixels, already preprocessed (fashion-mnist-v1)
let failures = 0;
const checked = new Set();

// ONNX/ORT: onnxruntime-node, with the session config entries the manifest lists for the file
// (e.g. session.x64quantprecision: no int8 saturation on x86 CPUs without VNNI; ORT-format files'
// saved runtime optimizations, replayed only because the file's hash matched the manifest).
// onnxruntime-js takes them as nested objects: {session: {x64quantprecision: "1"}}.
// On x86 CPUs without VNNI, ONNX Runtime's int8 kernels saturate int16 sums; session.x64quantprecision
// fixes that for ONNX files, but an ORT file's saved fusions ignore it, so there an int8 ORT file runs
// its quantize/dequantize graph unfused (in float), exactly as the Python runtime does on such CPUs.
function int8KernelsSaturate() {
  if (!["x64", "ia32"].includes(process.arch)) return false;
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags")) || "";
    return !/\b(avx512_vnni|avx_vnni)\b/.test(flags);
  } catch {
    return true;
  }
}

function sessionOptions(entry, bytes) {
  const config = { ...(entry.session_config || {}) };
  const quantized = Buffer.from(bytes).includes("DequantizeLinear");
  if (config["session.enable_saved_runtime_optimizations"] && quantized && int8KernelsSaturate()) {
    config["session.enable_saved_runtime_optimizations"] = "0";
  }
  const extra = {};
  for (const [key, value] of Object.entries(config)) {
    const [head, ...rest] = key.split(".");
    extra[head] = { ...(extra[head] || {}), [rest.join(".")]: value };
  }
  return { extra };
}

async function onnxRunner(name, entry, bytes) {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(entry, bytes));
  return async (data, shape) => {
    const output = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.dtype, data, shape) });
    return output[entry.output.name].data;
  };
}

// What an app does with the manifest's numbers: real = scale * (q - zero_point).
function dequantize(raw, tensor) {
  if (!tensor.scale) return Array.from(raw);
  return Array.from(raw, (q) => tensor.scale * (q - tensor.zero_point));
}

function quantize(pixels, tensor) {
  const typed = tensor.dtype === "uint8" ? Uint8Array : tensor.dtype === "int8" ? Int8Array : Float32Array;
  if (!tensor.scale || (tensor.scale === 1 && tensor.zero_point === 0)) return typed.from(pixels);
  return typed.from(pixels, (p) => Math.round(p / tensor.scale + tensor.zero_point));
}

for (const [name, entry] of Object.entries(manifest.formats)) {
  const family = name.split("-")[0];
  if (!["tflite", "onnx", "ort"].includes(family)) continue;
  const bytes = readFileSync(join(bundle, entry.file));
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (bytes.length !== entry.bytes || sha !== entry.sha256) {
    console.error(`${name}: ${entry.file} does not match manifest.json (size/sha256)`);
    failures++;
    continue;
  }
  const run = family === "tflite" ? await liteRtRunner(bytes) : await onnxRunner(name, entry, bytes);
  const expected = golden.outputs[name];
  let worst = 0;
  let top1Mismatches = 0;
  for (let i = 0; i < images.length; i++) {
    // uint8 pixels 0..255 in; the input tensor's dtype/scale/zero point say how to feed them.
    const raw = await run(quantize(images[i].flat(), entry.input), [1, height, width, channels]);
    const logits = dequantize(raw, entry.output);
    let best = 0;
    for (let k = 0; k < logits.length; k++) {
      worst = Math.max(worst, Math.abs(logits[k] - expected.logits[i][k]));
      if (logits[k] > logits[best]) best = k;
    }
    if (best !== expected.top1[i]) top1Mismatches++;
  }
  const ok = worst <= entry.golden_atol && top1Mismatches === 0;
  if (!ok) failures++;
  checked.add(family);
  const runtime = family === "tflite" ? "LiteRT.js" : "onnxruntime-node";
  console.log(`${name}: ${images.length} golden images on ${runtime}, max |dlogit| ${worst.toExponential(2)} ` +
    `(atol ${entry.golden_atol.toExponential(1)}), top-1 mismatches ${top1Mismatches}: ${ok ? "ok" : "FAIL"}`);
}
// The preprocessing port against the bundle's vectors: each photo is read only if the manifest lists it
// with the same sha256 as the vector, as for model files.
const vectors = golden.preprocessing_vectors;
const assets = new Map((manifest.assets ?? []).map((a) => [a.file, a]));
if (!vectors) {
  console.log("preprocessing: this bundle has no preprocessing vectors (exported before they existed): not checked");
} else {
  if (vectors.id !== manifest.input.preprocessing) throw new Error("preprocessing vectors are for another pipeline");
  const { mean_abs: meanTolerance, max_abs: maxTolerance } = vectors.tolerance;
  let worstMean = 0;
  for (const c of vectors.cases) {
    const bytes = readFileSync(join(bundle, c.file));
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (assets.get(c.file)?.sha256 !== sha || c.sha256 !== sha) {
      console.error(`preprocessing ${c.name}: ${c.file} does not match manifest.json/golden.json (sha256)`);
      failures++;
      continue;
    }
    const started = performance.now();
    const pixels = preprocess(new Uint8Array(bytes));
    const ms = performance.now() - started;
    const expected = c.pixels.flat();
    let sum = 0;
    let max = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(pixels[i] - expected[i]);
      sum += d;
      max = Math.max(max, d);
    }
    const mean = sum / expected.length;
    worstMean = Math.max(worstMean, mean);
    const ok = mean <= meanTolerance && max <= maxTolerance;
    if (!ok) failures++;
    console.log(`preprocessing ${c.name}: ${c.width}x${c.height} ${c.mode} EXIF ${c.exif_orientation} ${c.background}, ` +
      `mean |d| ${mean.toFixed(3)} max ${max} (tolerance ${meanTolerance} / ${maxTolerance}), ${ms.toFixed(0)} ms: ${ok ? "ok" : "FAIL"}`);
  }
  checked.add("preprocessing");
  console.log(`preprocessing: ${vectors.cases.length} photos through the JavaScript port (jpeg-js, pngjs), ` +
    `worst mean |d| ${worstMean.toFixed(3)}`);
}
if ([...checked].every((c) => c === "preprocessing")) {
  console.error("no TFLite, ONNX or ORT formats in the bundle");
  process.exit(1);
}
console.log(`node-check (${manifest.labels.length} labels; ${[...checked].join(", ")}): ${failures === 0 ? "passed" : "FAILED"}`);
process.exit(failures === 0 ? 0 : 1);
