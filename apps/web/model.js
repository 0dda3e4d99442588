// A fashion-edge bundle in the browser: manifest, labels and a sha256-checked model file, run on
// LiteRT.js (.tflite), onnxruntime-web (.onnx, .ort) or, for the bundle's Tasks-ready file, MediaPipe
// Tasks' ImageClassifier (mediapipe.js), all WebAssembly on the CPU.
//
// The bundle is read from relative URLs (`bundle/manifest.json`, `bundle/<file>`), so the page works
// under `fashion-edge serve` and under any static server with the bundle copied or linked at
// bundle/. What the manifest says is what the code does: the contract (contract.js) gives the frame's
// size and recipe, the output kind and the labels; the input tensor's dtype/scale/zero point say how
// to feed uint8 pixels, the output's how to dequantize (real = scale * (q - zero_point)), exactly as
// apps/node-check does under Node.
import { frameLength, readContract } from "./contract.js";
import { MEDIAPIPE, MEDIAPIPE_RUNTIME, openClassifier, tasksChoice } from "./mediapipe.js";
import { sha256Hex } from "./sha256.js";

export const DEFAULT_FORMAT = "tflite-int8";
export const RUNTIMES = { tflite: "LiteRT.js", onnx: "onnxruntime-web", ort: "onnxruntime-web" };

// Only the files the page loads are vendored (see build.mjs). LiteRT.js ships four WebAssembly
// builds of ~9 MB; "compat" needs no relaxed SIMD, threads or JSPI, so it runs in every current
// browser (Safari included) and one build is enough for a model this small.
const LITERT_JS = new URL("./vendor/litert_wasm_compat_internal.js", import.meta.url).href;
const ORT_DIR = new URL("./vendor/", import.meta.url).href;

export function familyOf(format) {
  return format.split("-")[0];
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function verified(bytes, file, expected) {
  if (bytes.length !== expected.bytes || (await sha256Hex(bytes)) !== expected.sha256) {
    throw new Error(`${file} does not match manifest.json (size/sha256): refusing to use it`);
  }
  return bytes;
}

/**
 * The bundle at `base` (a URL ending in /): {base, manifest, contract, labels, formats, mediapipe}, where
 * `mediapipe` is the Tasks-ready file MediaPipe runs ({file, bytes, sha256, based_on, variant}) or why
 * there is none ({reason}). Refuses a bundle whose contract this page cannot fill (a preprocessing
 * recipe preprocess.js does not implement).
 */
export async function loadBundle(base) {
  const manifest = await (await fetchOk(new URL("manifest.json", base))).json();
  const contract = readContract(manifest);
  const labelsAsset = (manifest.assets || []).find((a) => a.file === "labels.txt");
  const labelsBytes = new Uint8Array(await (await fetchOk(new URL("labels.txt", base))).arrayBuffer());
  if (labelsAsset) await verified(labelsBytes, "labels.txt", labelsAsset);
  const lines = new TextDecoder().decode(labelsBytes).replace(/\r?\n$/, "").split(/\r?\n/);
  if (lines.join("\n") !== contract.labels.join("\n")) throw new Error("labels.txt disagrees with manifest.json's labels");
  const formats = Object.keys(manifest.formats).filter((f) => familyOf(f) in RUNTIMES);
  if (!formats.length) throw new Error("the bundle has no TFLite, ONNX or ORT file");
  return { base, manifest, contract, labels: contract.labels, formats, mediapipe: tasksChoice(manifest) };
}

// --- runtimes: loaded once, on first use --------------------------------------------------------

let liteRt;
function liteRtModule() {
  liteRt ??= (async () => {
    const core = await import("./vendor/litert-core.js");
    await core.loadLiteRt(LITERT_JS);
    return core;
  })();
  return liteRt;
}

let onnxRuntime;
function onnxRuntimeModule() {
  onnxRuntime ??= (async () => {
    const ort = await import("./vendor/ort.wasm.min.mjs");
    ort.env.wasm.wasmPaths = ORT_DIR;
    // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page (COOP/COEP headers) that
    // neither `fashion-edge serve` nor a plain static server gives; a batch of one needs none.
    ort.env.wasm.numThreads = 1;
    return ort;
  })();
  return onnxRuntime;
}

// --- quantization, as the manifest describes it -------------------------------------------------

const TYPED = { uint8: Uint8Array, int8: Int8Array, int16: Int16Array, float32: Float32Array };

function quantize(pixels, tensor) {
  const Typed = TYPED[tensor.dtype];
  if (!Typed) throw new Error(`input dtype ${tensor.dtype} is not supported by this page`);
  if (!tensor.scale || (tensor.scale === 1 && tensor.zero_point === 0)) return Typed.from(pixels);
  return Typed.from(pixels, (p) => Math.round(p / tensor.scale + tensor.zero_point));
}

function dequantize(raw, tensor) {
  if (!tensor.scale) return Float32Array.from(raw);
  return Float32Array.from(raw, (q) => tensor.scale * (q - tensor.zero_point));
}

// onnxruntime-web takes session config entries as nested objects: "a.b" -> {a: {b}}.
function sessionExtra(config = {}) {
  const extra = {};
  for (const [key, value] of Object.entries(config)) {
    const [head, ...rest] = key.split(".");
    (extra[head] ??= {})[rest.join(".")] = value;
  }
  return extra;
}

/**
 * One format of the bundle, ready to run: {format, runtime, file, sha256, kind, run(pixels) -> outputs}.
 * `pixels`: one frame, height * width * channels uint8 values in row-major H, W, C order;
 * outputs: Float32Array of the file's outputs, dequantized: logits or probabilities, as `kind` says (the
 * contract's output.kind; always probabilities on MediaPipe, whose files end in a softmax).
 * `format` MEDIAPIPE ("mediapipe") is the bundle's Tasks-ready file on MediaPipe Tasks.
 */
export async function openModel(bundle, format) {
  if (format === MEDIAPIPE) return openMediaPipe(bundle);
  const entry = bundle.manifest.formats[format];
  if (!entry || !(familyOf(format) in RUNTIMES)) throw new Error(`format ${format} is not in the bundle or not supported here`);
  const bytes = new Uint8Array(await (await fetchOk(new URL(entry.file, bundle.base))).arrayBuffer());
  await verified(bytes, entry.file, entry);
  const { input } = bundle.contract;
  const shape = [1, input.height, input.width, input.channels];
  if (entry.input.shape.join() !== shape.join()) {
    throw new Error(`${format}'s input is [${entry.input.shape}], not the contract's [${shape}]`);
  }
  const family = familyOf(format);
  let run;
  if (family === "tflite") {
    const core = await liteRtModule();
    const model = await core.loadAndCompile(bytes, { accelerator: "wasm" });
    run = async (pixels) => {
      const tensor = new core.Tensor(quantize(pixels, entry.input), shape);
      try {
        const [output] = await model.run([tensor]);
        const raw = output.toTypedArray().slice();
        output.delete();
        return dequantize(raw, entry.output);
      } finally {
        tensor.delete();
      }
    };
  } else {
    const ort = await onnxRuntimeModule();
    // ORT-format files carry saved runtime optimizations; the manifest says how to replay them.
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"], extra: sessionExtra(entry.session_config),
    });
    run = async (pixels) => {
      const tensor = new ort.Tensor(entry.input.dtype, quantize(pixels, entry.input), shape);
      const outputs = await session.run({ [entry.input.name]: tensor });
      return dequantize(outputs[entry.output.name].data, entry.output);
    };
  }
  const checked = (pixels) => {
    checkFrame(pixels, input);
    return run(pixels);
  };
  return { format, runtime: RUNTIMES[family], file: entry.file, sha256: entry.sha256,
    kind: bundle.contract.output.kind, run: checked };
}

function checkFrame(pixels, input) {
  if (pixels.length !== frameLength(input)) {
    throw new Error(`expected ${frameLength(input)} pixel values `
      + `(${input.height}x${input.width}x${input.channels}), got ${pixels.length}`);
  }
}

async function openMediaPipe(bundle) {
  const choice = bundle.mediapipe;
  if (!choice.file) throw new Error(`${MEDIAPIPE_RUNTIME} is not available for this bundle: ${choice.reason}`);
  const bytes = new Uint8Array(await (await fetchOk(new URL(choice.file, bundle.base))).arrayBuffer());
  await verified(bytes, choice.file, choice);
  const { input } = bundle.contract;
  const classify = await openClassifier(bytes, input, bundle.labels);
  const run = async (pixels) => {
    checkFrame(pixels, input);
    return classify(pixels);
  };
  return { format: MEDIAPIPE, runtime: MEDIAPIPE_RUNTIME, file: choice.file, sha256: choice.sha256,
    based_on: choice.based_on, kind: "probabilities", run };
}
