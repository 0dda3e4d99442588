// MediaPipe Tasks' ImageClassifier (@mediapipe/tasks-vision) as one more runtime beside LiteRT.js and
// onnxruntime-web, on the CPU in WebAssembly, for the bundle's Tasks-ready file: a TFLite file with
// TFLite Metadata (labels inside), uint8 or float32 1xHxWx3 RGB in, probabilities out. manifest.json's
// optional `tasks` record says which files those are (`tasks.files`: variants made for MediaPipe;
// `tasks.formats`: the bundle's own TFLite files it loads as they are).
//
// MediaPipe resizes whatever image it gets to the model's HxW with its own filter. The page hands it
// the frame its own preprocessing made (preprocess.js, the bundle's recipe), already at HxW, as RGBA
// ImageData, so the tensor is the one the other runtimes get; a grey frame goes in as R=G=B, which the
// variant's RGB-to-grey (ITU-R 601 weights, summing to 1) turns back into the same grey.
//
// The WebAssembly fileset is named here rather than by FilesetResolver.forVisionTasks, which probes for
// SIMD and would ask for the no-SIMD build where it is missing: vendor/ holds only the SIMD build, as
// for the other two runtimes (LiteRT.js' compat build and onnxruntime-web's need SIMD too).

export const MEDIAPIPE = "mediapipe";              // its name beside the formats (menu, ?format=, classifyPixels)
export const MEDIAPIPE_RUNTIME = "MediaPipe Tasks";
const PREFERRED = "tflite-int8";

const FILESET = {
  wasmLoaderPath: new URL("./vendor/vision_wasm_internal.js", import.meta.url).href,
  wasmBinaryPath: new URL("./vendor/vision_wasm_internal.wasm", import.meta.url).href,
};

/**
 * The file MediaPipe runs for this manifest: {file, bytes, sha256, based_on, variant} — among the variants
 * (tflite-int8's first) and then the ready format files (tflite-int8 first), the first that passed its
 * parity gate, else the first (a bundle exported with --gate record) — or {reason} when none.
 */
export function tasksChoice(manifest) {
  const tasks = manifest.tasks;
  if (!tasks) return { reason: "manifest.json has no \"tasks\" record, so no file is known to carry MediaPipe's metadata" };
  if (tasks.metadata !== "written") return { reason: `TFLite metadata was skipped at export: ${tasks.note}` };
  const int8First = (a, b) => (b === PREFERRED) - (a === PREFERRED);
  const variants = [...(tasks.files ?? [])].sort((a, b) => int8First(a.based_on, b.based_on))
    .map(({ file, bytes, sha256, based_on, passed }) => ({ file, bytes, sha256, based_on, variant: true, passed }));
  const verdicts = Object.entries(tasks.formats ?? {});
  const ready = verdicts.filter(([name, v]) => v.ready && manifest.formats[name]).map(([name]) => name)
    .sort(int8First).map((name) => {
      const { file, bytes, sha256, parity } = manifest.formats[name];
      return { file, bytes, sha256, based_on: name, variant: false, passed: !(parity?.failures ?? []).length };
    });
  const candidates = [...variants, ...ready];
  const chosen = candidates.find((c) => c.passed) ?? candidates[0];
  if (chosen) {
    const { passed, ...choice } = chosen;
    return choice;
  }
  const why = verdicts.map(([n, v]) => `${n}: ${(v.reasons ?? []).join("; ") || "not ready"}`);
  return { reason: `no Tasks-ready file${why.length ? ` (${why.join("; ")})` : ""}` };
}

let vision;
function visionModule() {
  vision ??= import("./vendor/vision_bundle.mjs");
  return vision;
}

/**
 * An ImageClassifier on `bytes` (the Tasks-ready file, already checked against the manifest): a function
 * from one frame (height * width * channels uint8 values, row-major H, W, C) to a Float32Array of the
 * file's probabilities in label order.
 */
export async function openClassifier(bytes, input, labels) {
  const { ImageClassifier } = await visionModule();
  const classifier = await ImageClassifier.createFromOptions(FILESET, {
    baseOptions: { modelAssetBuffer: bytes, delegate: "CPU" }, runningMode: "IMAGE", maxResults: -1,
  });
  const { height, width, channels } = input;
  const image = new ImageData(width, height);
  image.data.fill(255);                                  // opaque; the colour bytes are set per frame
  return (pixels) => {
    const rgba = image.data;
    for (let i = 0; i < height * width; i++) {
      if (channels === 1) {
        rgba[i * 4] = rgba[i * 4 + 1] = rgba[i * 4 + 2] = pixels[i];
      } else {
        rgba[i * 4] = pixels[i * 3];
        rgba[i * 4 + 1] = pixels[i * 3 + 1];
        rgba[i * 4 + 2] = pixels[i * 3 + 2];
      }
    }
    const [head] = classifier.classify(image).classifications;
    const scores = new Float32Array(labels.length);
    for (const { index, score, categoryName } of head?.categories ?? []) {
      if (categoryName && categoryName !== labels[index]) {
        throw new Error(`the file's metadata names class ${index} "${categoryName}", manifest.json "${labels[index]}"`);
      }
      scores[index] = score;
    }
    if ((head?.categories ?? []).length !== labels.length) {
      throw new Error(`MediaPipe returned ${head?.categories?.length ?? 0} scores for ${labels.length} classes`);
    }
    return scores;
  };
}
