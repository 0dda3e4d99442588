// Loads a fashion-edge bundle the way an app would: manifest.json for files, hashes, input contract
// and tolerances; golden.json for inputs and expected outputs. Runs every ONNX format with
// onnxruntime-node and exits non-zero unless each matches (logits within golden_atol, same top-1).
//
//   node check.mjs path/to/bundle
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";

const bundle = process.argv[2];
if (!bundle) {
  console.error("usage: node check.mjs BUNDLE");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
const golden = JSON.parse(readFileSync(join(bundle, "golden.json"), "utf8"));
if (manifest.input.preprocessing !== golden.preprocessing) throw new Error("preprocessing ids differ");

const [, height, width, channels] = manifest.input.shape; // NHWC, batch of one
const images = golden.images; // uint8 pixels, already preprocessed (fashion-mnist-v1)
let failures = 0;
let checked = 0;

for (const [name, entry] of Object.entries(manifest.formats)) {
  if (!name.startsWith("onnx-")) continue;
  const bytes = readFileSync(join(bundle, entry.file));
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (bytes.length !== entry.bytes || sha !== entry.sha256) {
    console.error(`${name}: ${entry.file} does not match manifest.json (size/sha256)`);
    failures++;
    continue;
  }
  const session = await ort.InferenceSession.create(bytes);
  const expected = golden.outputs[name];
  let worst = 0;
  let top1Mismatches = 0;
  for (let i = 0; i < images.length; i++) {
    // The ONNX models take float32 pixels 0..255 (quantization, if any, is inside the graph).
    const pixels = Float32Array.from(images[i].flat());
    const input = new ort.Tensor("float32", pixels, [1, height, width, channels]);
    const output = await session.run({ [entry.input.name]: input });
    const logits = output[entry.output.name].data;
    let best = 0;
    for (let k = 0; k < logits.length; k++) {
      worst = Math.max(worst, Math.abs(logits[k] - expected.logits[i][k]));
      if (logits[k] > logits[best]) best = k;
    }
    if (best !== expected.top1[i]) top1Mismatches++;
  }
  const ok = worst <= entry.golden_atol && top1Mismatches === 0;
  if (!ok) failures++;
  checked++;
  console.log(`${name}: ${images.length} golden images, max |dlogit| ${worst.toExponential(2)} ` +
    `(atol ${entry.golden_atol.toExponential(1)}), top-1 mismatches ${top1Mismatches}: ${ok ? "ok" : "FAIL"}`);
}
if (checked === 0) {
  console.error("no ONNX formats in the bundle");
  process.exit(1);
}
console.log(`node-check (${manifest.labels.length} labels, onnxruntime-node): ${failures === 0 ? "passed" : "FAILED"}`);
process.exit(failures === 0 ? 0 : 1);
