// The page: photo in (file, drop, phone camera app, live camera), preprocessing and the model run
// here, result out. Everything follows the bundle's contract (contract.js): the frame's size, colour
// and preprocessing recipe, the labels, logits or probabilities. The automation API (README.md in
// this folder, docs/apps.md):
//
//   await fashionEdge.ready                  -> {format, formats, runtime, labels, input, output,
//                                               frame_length, mediapipe}
//   await fashionEdge.classify(blob, format?) -> {label_id, label, confidence, probabilities, top,
//                                               logits, latency_ms, format, runtime, preprocess_ms,
//                                               pixels, height, width, channels}
//   await fashionEdge.classifyPixels(pixels, format?)   one frame, no preprocessing (golden.json images)
//   format "mediapipe": the bundle's Tasks-ready file on MediaPipe Tasks (ready.mediapipe says which, or why not)
//   await fashionEdge.preprocess(blob)       -> {pixels, height, width, channels}
//   fashionEdge.preprocessRgba(rgba, width, height)  -> the same, from decoded RGBA pixels
//   fashionEdge.camera.start() / .stop() / .last / .frames
import { frameLength, rank } from "./contract.js";
import { decode, readbackContext } from "./decode.js";
import { MEDIAPIPE, MEDIAPIPE_RUNTIME } from "./mediapipe.js";
import { DEFAULT_FORMAT, loadBundle, openModel } from "./model.js";
import { preprocessFor } from "./preprocess.js";

const $ = (id) => document.getElementById(id);
const BUNDLE = new URL("bundle/", document.baseURI);

let bundle;
let current;                                   // the model in use
const models = new Map();                      // format -> Promise of an open model

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function getModel(format) {
  if (!models.has(format)) {
    const opening = openModel(bundle, format);
    opening.catch(() => models.delete(format));  // a failed load may be retried
    models.set(format, opening);
  }
  return models.get(format);
}

async function useFormat(format) {
  setStatus(`Loading ${format}…`);
  current = await getModel(format);
  $("format").value = format;
  $("runtime").textContent = `${current.runtime}, WebAssembly`;
  const as = format === MEDIAPIPE ? `its Tasks-ready file (${current.file}, made from ${current.based_on}; sha256 checked)`
    : `${format} (${current.file}, sha256 checked)`;
  setStatus(`Ready: model ${bundle.manifest.model} as ${as} on ${current.runtime}.`);
  return current;
}

// One inference at a time: onnxruntime-web refuses concurrent runs of a session, and the camera
// loop and a dropped file may overlap.
let queue = Promise.resolve();
function serialised(task) {
  const result = queue.then(task, task);
  queue = result.catch(() => {});
  return result;
}

/** One frame (height * width * channels values, row-major H, W, C) through the model; `logits` are the
 * file's outputs as golden.json stores them (probabilities when the contract's output.kind says so, and
 * always on MediaPipe, whose Tasks-ready files end in a softmax). */
async function classifyPixels(pixels, format) {
  await ready;
  const model = format ? await getModel(format) : current;
  const contract = { labels: bundle.contract.labels, output: { ...bundle.contract.output, kind: model.kind } };
  return serialised(async () => {
    const start = performance.now();
    const outputs = await model.run(pixels);
    const latency = performance.now() - start;
    return { ...rank(outputs, contract), logits: Array.from(outputs), latency_ms: latency,
      format: model.format, runtime: model.runtime };
  });
}

/** Decoded upright RGBA pixels -> {pixels, height, width, channels}: the frame the bundle's recipe makes. */
function preprocessRgba(rgba, width, height) {
  if (!bundle) throw new Error("the bundle is not loaded yet (await fashionEdge.ready)");
  const { input } = bundle.contract;
  return { pixels: preprocessFor(input, rgba, width, height), height: input.height, width: input.width,
    channels: input.channels };
}

async function preprocess(blob) {
  await ready;
  const { rgba, width, height } = await decode(blob);
  return preprocessRgba(rgba, width, height);
}

async function classify(blob, format) {
  const start = performance.now();
  const seen = await preprocess(blob);
  const preprocessMs = performance.now() - start;
  const result = await classifyPixels(seen.pixels, format);
  return { ...result, ...seen, pixels: Array.from(seen.pixels), preprocess_ms: preprocessMs };
}

// --- showing a result ---------------------------------------------------------------------------

const SEEN_PX = 168;                           // the longer side of the preview, in CSS pixels

function sizeSeen({ height, width }) {
  const canvas = $("seen");
  const scale = SEEN_PX / Math.max(height, width);
  Object.assign(canvas, { width, height });
  Object.assign(canvas.style, { width: `${Math.round(width * scale)}px`, height: `${Math.round(height * scale)}px` });
  canvas.setAttribute("aria-label", `the ${width}×${height} image the model saw`);
  $("seen-caption").textContent = `what the model saw (${width}×${height}${bundle.contract.input.channels === 1 ? ", grey" : ""})`;
}

function drawSeen(pixels) {
  const { height, width, channels } = bundle.contract.input;
  const context = $("seen").getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < height * width; i++) {
    const [r, g, b] = channels === 1 ? [pixels[i], pixels[i], pixels[i]]
      : [pixels[i * 3], pixels[i * 3 + 1], pixels[i * 3 + 2]];
    image.data.set([r, g, b, 255], i * 4);
  }
  context.putImageData(image, 0, 0);
}

function show(result, extra = "") {
  drawSeen(result.pixels);
  $("top3").replaceChildren(...result.top.map((t) => {
    const item = document.createElement("li");
    const percent = (t.confidence * 100).toFixed(1);
    item.innerHTML = `<span class="label"></span><span class="bar"><span style="width:${percent}%"></span></span><span class="pct">${percent}%</span>`;
    item.querySelector(".label").textContent = t.label;
    return item;
  }));
  $("timing").textContent = `preprocessing ${result.preprocess_ms.toFixed(1)} ms · inference ` +
    `${result.latency_ms.toFixed(2)} ms (${result.format}, ${result.runtime})${extra}`;
}

async function handleFile(file) {
  if (!file) return;
  stopCamera();
  const preview = $("preview");
  URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("drop-hint").hidden = true;
  try {
    await fashionEdge.ready;
    show(await classify(file));
    setStatus(`${file.name || "image"}: classified on this device.`);
  } catch (error) {
    setStatus(`${file.name || "image"}: ${error.message}`, true);
  }
}

// --- live camera --------------------------------------------------------------------------------

const camera = { stream: null, frames: 0, last: null, constraints: null };

// Rear camera preferred ("environment"); 640x480 is plenty for a device input and keeps the
// JavaScript preprocessing of each frame to a few milliseconds.
const CAMERA_CONSTRAINTS = {
  audio: false,
  video: { facingMode: { ideal: "environment" }, width: { ideal: 640 }, height: { ideal: 480 } },
};

function nextFrame(video) {
  return new Promise((resolve) => (video.requestVideoFrameCallback
    ? video.requestVideoFrameCallback(() => resolve())
    : requestAnimationFrame(() => resolve())));
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    setStatus("The live camera needs https or localhost here; “Take a photo” works anywhere.", true);
    return false;
  }
  if (camera.stream) return true;
  await fashionEdge.ready;
  camera.constraints = CAMERA_CONSTRAINTS;
  camera.stream = await navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
  const video = $("video");
  video.srcObject = camera.stream;
  await video.play();
  video.hidden = false;
  $("preview").hidden = true;
  $("drop-hint").hidden = true;
  $("camera").textContent = "Stop camera";
  camera.frames = 0;
  cameraLoop(video);
  return true;
}

function stopCamera() {
  if (!camera.stream) return;
  camera.stream.getTracks().forEach((track) => track.stop());
  camera.stream = null;
  $("video").hidden = true;
  $("camera").textContent = "Live camera";
}

async function cameraLoop(video) {
  let context = readbackContext(1, 1);
  let previous = performance.now();
  while (camera.stream) {
    await nextFrame(video);
    if (!camera.stream || !video.videoWidth) continue;
    const { videoWidth: width, videoHeight: height } = video;
    if (context.canvas.width !== width || context.canvas.height !== height) context = readbackContext(width, height);
    context.drawImage(video, 0, 0, width, height);
    const start = performance.now();
    try {
      const seen = preprocessRgba(context.getImageData(0, 0, width, height).data, width, height);
      const preprocessMs = performance.now() - start;
      const result = { ...(await classifyPixels(seen.pixels)), preprocess_ms: preprocessMs, pixels: Array.from(seen.pixels) };
      const now = performance.now();
      const fps = 1000 / (now - previous);
      previous = now;
      camera.frames += 1;
      camera.last = { ...result, width, height, fps };
      show(result, ` · ${fps.toFixed(0)} frames/s`);
    } catch (error) {
      setStatus(`camera: ${error.message}`);             // e.g. an empty frame: keep looking
    }
  }
}

// --- wiring -------------------------------------------------------------------------------------

function wire() {
  $("file").addEventListener("change", (e) => handleFile(e.target.files[0]));
  $("snap").addEventListener("change", (e) => handleFile(e.target.files[0]));
  $("camera").addEventListener("click", () => (camera.stream ? stopCamera()
    : startCamera().catch((error) => setStatus(`camera: ${error.message}`, true))));
  $("format").addEventListener("change", (e) => useFormat(e.target.value).catch((error) => setStatus(error.message, true)));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    handleFile(e.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (e) => handleFile([...e.clipboardData.files][0]));
}

// The menu's MediaPipe entry: the Tasks-ready file it runs, or, disabled, why there is none.
function mediaPipeOption(choice) {
  const option = new Option(choice.file ? `${MEDIAPIPE_RUNTIME}: ${choice.file}` : `${MEDIAPIPE_RUNTIME} (unavailable)`,
    MEDIAPIPE);
  option.disabled = !choice.file;
  option.title = choice.reason ?? `the Tasks-ready file ${choice.file} (from ${choice.based_on}) on MediaPipe's ImageClassifier`;
  $("mediapipe").textContent = choice.file ? `${MEDIAPIPE_RUNTIME} can run ${choice.file} (menu).`
    : `${MEDIAPIPE_RUNTIME} unavailable: ${choice.reason}.`;
  return option;
}

async function start() {
  bundle = await loadBundle(BUNDLE);
  sizeSeen(bundle.contract.input);
  const choices = [...bundle.formats, ...(bundle.mediapipe.file ? [MEDIAPIPE] : [])];
  const wanted = new URLSearchParams(location.search).get("format");
  const format = [wanted, DEFAULT_FORMAT, bundle.formats[0]].find((f) => f && choices.includes(f));
  const select = $("format");
  select.replaceChildren(...bundle.formats.map((f) => new Option(f, f)), mediaPipeOption(bundle.mediapipe));
  select.disabled = false;
  const model = await useFormat(format);
  const { input, output } = bundle.contract;
  const { file = null, based_on: basedOn = null, variant = null, reason = null } = bundle.mediapipe;
  return { format: model.format, formats: bundle.formats, runtime: model.runtime, labels: [...bundle.labels],
    input: { height: input.height, width: input.width, channels: input.channels, colour: input.colour,
      preprocessing: input.preprocessing },
    output: { ...output }, frame_length: frameLength(input),
    mediapipe: { available: Boolean(file), file, based_on: basedOn, variant, reason } };
}

// The service worker caches the page, the runtimes and the bundle for use with no network. It
// exists only in secure contexts (https, localhost), like the camera.
function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) {
    $("offline").textContent = "(Offline use needs https or localhost.)";
    return Promise.resolve(false);
  }
  return navigator.serviceWorker.register("sw.js")
    .then(() => navigator.serviceWorker.ready)
    .then(() => { $("offline").textContent = "Works offline."; return true; })
    .catch((error) => { $("offline").textContent = `(Offline cache failed: ${error.message}.)`; return false; });
}

const ready = start();
ready.catch((error) => setStatus(`Could not load the model: ${error.message}`, true));
window.fashionEdge = {
  ready,
  classify,
  classifyPixels,
  preprocess,
  preprocessRgba,
  useFormat: (format) => useFormat(format).then((m) => m.format),
  camera: {
    start: startCamera,
    stop: stopCamera,
    get frames() { return camera.frames; },
    get last() { return camera.last; },
    get constraints() { return camera.constraints; },
  },
  offline: registerServiceWorker(),
};
wire();
