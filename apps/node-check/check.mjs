// Loads a fashion-edge bundle the way an app would: manifest.json for the contract (input size,
// colour, preprocessing recipe, output kind, labels; schema 3 or 2), files, hashes, quantization and
// tolerances; golden.json for device frames and the outputs each format must reproduce. Runs every
// TFLite, ONNX and ORT-format file the bundle has: ONNX and ORT on onnxruntime-node, TFLite on
// LiteRT.js (@litertjs/core, WebAssembly CPU). Then, when the bundle carries preprocessing vectors,
// runs the shared preprocessing module (../web/preprocess.js, the web page's) on their encoded photos.
// Exits non-zero unless each format's outputs (dequantized; logits or probabilities as the manifest
// says) are within golden_atol of golden.json's with the same top-1, and each photo's frame is within
// the vectors' tolerance.
//
//   node check.mjs [path/to/bundle]        (default: $FASHION_EDGE_BUNDLE or ../../artifacts/edge/bundle)
//   npm test -- path/to/bundle
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";

import { frameLength, readContract } from "../web/contract.js";
import { preprocessFor } from "../web/preprocess.js";
import { decode } from "./decode.mjs";
import { liteRtRunner } from "./litert-node.mjs";

const RUNTIMES = { tflite: "LiteRT.js", onnx: "onnxruntime-node", ort: "onnxruntime-node" };

const bundle = process.argv[2] || process.env.FASHION_EDGE_BUNDLE || new URL("../../artifacts/edge/bundle", import.meta.url).pathname;
if (!existsSync(join(bundle, "manifest.json"))) {
  console.error(`usage: node check.mjs BUNDLE (no manifest.json in ${bundle}; export one with fashion-edge export)`);
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const golden = JSON.parse(readFileSync(join(bundle, "golden.json"), "utf8"));
const contract = readContract(manifest);
const { input, output } = contract;
const recipe = input.preprocessing.id;
if (golden.preprocessing !== recipe) {
  throw new Error(`golden.json is for preprocessing ${golden.preprocessing}, the manifest says ${recipe}`);
}
const shape = [1, input.height, input.width, input.channels];       // NHWC, batch of one
console.log(`contract: schema ${manifest.schema_version}, input ${input.height}x${input.width}x${input.channels} ` +
  `${input.colour}, ${recipe} ${JSON.stringify(input.preprocessing.parameters)}; output ${output.classes} ${output.kind}`);

// Pixels as golden.json stores them: {shape, base64} (uint8, row-major), or schema 2's nested 28x28 lists.
function pixelsOf(stored) {
  if (Array.isArray(stored)) return { shape: [stored.length, stored[0].length], data: Uint8Array.from(stored.flat(2)) };
  const data = new Uint8Array(Buffer.from(stored.base64, "base64"));
  if (data.length !== stored.shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`pixels of shape [${stored.shape}] hold ${data.length} bytes`);
  }
  return { shape: stored.shape, data };
}

function goldenFrames() {
  const stored = golden.images;
  const frames = Array.isArray(stored) ? stored.map((image) => pixelsOf(image).data) : (() => {
    const { shape: [n, ...frame], data } = pixelsOf(stored);
    const size = frame.reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size));
  })();
  for (const frame of frames) {
    if (frame.length !== frameLength(input)) {
      throw new Error(`golden.json's images are not ${input.height}x${input.width}x${input.channels} frames`);
    }
  }
  return frames;
}

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

async function onnxRunner(entry, bytes) {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(entry, bytes));
  return async (data) => {
    const outputs = await session.run({ [entry.input.name]: new ort.Tensor(entry.input.dtype, data, shape) });
    return outputs[entry.output.name].data;
  };
}

async function tfliteRunner(bytes) {
  const run = await liteRtRunner(bytes);
  return (data) => run(data, shape);
}

// What an app does with the manifest's numbers: real = scale * (q - zero_point).
function dequantize(raw, tensor) {
  if (!tensor.scale) return Array.from(raw);
  return Array.from(raw, (q) => tensor.scale * (q - tensor.zero_point));
}

const TYPED = { uint8: Uint8Array, int8: Int8Array, int16: Int16Array, float32: Float32Array };

function quantize(pixels, tensor) {
  const Typed = TYPED[tensor.dtype];
  if (!Typed) throw new Error(`input dtype ${tensor.dtype} is not supported here`);
  if (!tensor.scale || (tensor.scale === 1 && tensor.zero_point === 0)) return Typed.from(pixels);
  return Typed.from(pixels, (p) => Math.round(p / tensor.scale + tensor.zero_point));
}

function argmax(values) {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

let failures = 0;
let formatsRun = 0;
const frames = goldenFrames();
for (const [name, entry] of Object.entries(manifest.formats)) {
  const family = name.split("-")[0];
  if (!(family in RUNTIMES)) {
    console.log(`${name}: no JavaScript runtime for this format here: skipped`);
    continue;
  }
  const bytes = readFileSync(join(bundle, entry.file));
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (bytes.length !== entry.bytes || sha !== entry.sha256) {
    console.error(`${name}: ${entry.file} does not match manifest.json (size/sha256)`);
    failures++;
    continue;
  }
  const expected = golden.outputs[name];
  if (!expected) {
    console.error(`${name}: golden.json has no outputs for this format`);
    failures++;
    continue;
  }
  const run = family === "tflite" ? await tfliteRunner(bytes) : await onnxRunner(entry, bytes);
  let worst = 0;
  let top1Mismatches = 0;
  for (let i = 0; i < frames.length; i++) {
    // uint8 pixels 0..255 in; the input tensor's dtype/scale/zero point say how to feed them.
    const outputs = dequantize(await run(quantize(frames[i], entry.input)), entry.output);
    if (outputs.length !== output.classes) {
      throw new Error(`${name}: ${outputs.length} outputs, the manifest says ${output.classes} classes`);
    }
    for (let k = 0; k < outputs.length; k++) worst = Math.max(worst, Math.abs(outputs[k] - expected.logits[i][k]));
    if (argmax(outputs) !== expected.top1[i]) top1Mismatches++;
  }
  const ok = worst <= entry.golden_atol && top1Mismatches === 0;
  if (!ok) failures++;
  formatsRun++;
  const what = output.kind === "logits" ? "logit" : "probability";
  console.log(`${name}: ${frames.length} golden images on ${RUNTIMES[family]}, max |d${what}| ` +
    `${worst.toExponential(2)} (atol ${entry.golden_atol.toExponential(1)}), top-1 mismatches ${top1Mismatches}: ${ok ? "ok" : "FAIL"}`);
}

// The shared preprocessing module against the bundle's vectors: each photo is read only if the
// manifest lists it with the same sha256 as the vector, as for model files.
const vectors = golden.preprocessing_vectors;
const assets = new Map((manifest.assets ?? []).map((a) => [a.file, a]));
if (!vectors) {
  console.log("preprocessing: this bundle has no preprocessing vectors: not checked");
} else {
  if (vectors.id !== recipe) throw new Error(`preprocessing vectors are for ${vectors.id}, the bundle's recipe is ${recipe}`);
  const { mean_abs: meanTolerance, max_abs: maxTolerance, why } = vectors.tolerance;
  console.log(`preprocessing: decoded by jpeg-js/pngjs in full, then ${recipe} exactly as Python computes it; ` +
    `the vectors' tolerance (mean |d| ${meanTolerance}, max ${maxTolerance}) covers the decoding: ${why}`);
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
    const { rgba, width, height } = decode(new Uint8Array(bytes));
    const pixels = preprocessFor(input, rgba, width, height);
    const ms = performance.now() - started;
    const expected = pixelsOf(c.pixels).data;
    let sum = 0;
    let max = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs(pixels[i] - expected[i]);
      sum += d;
      max = Math.max(max, d);
    }
    const mean = sum / expected.length;
    worstMean = Math.max(worstMean, mean);
    const ok = pixels.length === expected.length && mean <= meanTolerance && max <= maxTolerance;
    if (!ok) failures++;
    console.log(`preprocessing ${c.name}: ${c.width}x${c.height} ${c.mode} EXIF ${c.exif_orientation} ${c.background}, ` +
      `mean |d| ${mean.toFixed(3)} max ${max} (tolerance ${meanTolerance} / ${maxTolerance}), ${ms.toFixed(0)} ms: ${ok ? "ok" : "FAIL"}`);
  }
  console.log(`preprocessing: ${vectors.cases.length} photos through the shared JavaScript module (jpeg-js, pngjs), ` +
    `worst mean |d| ${worstMean.toFixed(3)}`);
}
if (formatsRun === 0 && failures === 0) {
  console.error("no TFLite, ONNX or ORT formats in the bundle");
  process.exit(1);
}
console.log(`node-check (${contract.labels.length} labels, ${formatsRun} formats): ${failures === 0 ? "passed" : "FAILED"}`);
process.exit(failures === 0 ? 0 : 1);
