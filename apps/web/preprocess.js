// The preprocessing recipes in JavaScript, one module for the page and for Node: decoded RGBA pixels
// -> the device frame the bundle's model takes (uint8, row-major H x W x C), as the Python runtime
// computes it. `RECIPES` is the twin of fashion_edge/runtime/recipes.py's registry, keyed by the
// manifest's input.preprocessing.id:
//
//   fashion-mnist-v1   runtime/preprocess.py: trim to the garment (backdrop.py's Backdrop.of_image,
//                      Backdrop.trim_box), BOX-resize the longest edge to 28, UnsharpMask, centre on
//                      the backdrop colour, negate, grey, stretch an off-white backdrop to black
//   photo-v1           runtime/photo.py: alpha onto the declared background, RGB or grey, stretch /
//                      crop / pad to the tensor's aspect (crop_box, padded_placement), resize with the
//                      declared Pillow filter; no resize when the size already matches
//
// The arithmetic is Pillow's (pillow.js), so on the same decoded pixels the bytes are Python's.
// Decoding is the caller's: the page's createImageBitmap (EXIF applied by the browser), Node's
// jpeg-js/pngjs (apps/node-check/decode.mjs). Python decodes a large JPEG at 1/2..1/8 by libjpeg's
// DCT scaling and the decoders differ by a level here and there; the bundle's preprocessing vectors
// state the tolerance that covers it.
import { FILTERS, compositeOnto, grey, resample, resizeNearest, unsharpMask } from "./pillow.js";

// --- fashion-mnist-v1 ---------------------------------------------------------------------------

export const SIZE = 28;
const TRIM_TOLERANCE = Math.fround(0.05 * 255);
const DARK = 128;
const LUMA = [0.299, 0.587, 0.114].map(Math.fround);
const WHITE = [255, 255, 255];

/** Python's round(): halves go to the even neighbour (numpy's rint does the same). */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The median of the four corner pixels, per channel (float32, as numpy computes it). */
function backdrop(rgb, width, height) {
  const corners = [0, width - 1, (height - 1) * width, height * width - 1];
  return [0, 1, 2].map((c) => {
    const v = corners.map((i) => rgb[i * 3 + c]).sort((a, b) => a - b);
    return (v[1] + v[2]) / 2;
  });
}

function lumaF32(colour) {
  const f = Math.fround;
  return f(f(f(colour[0] * LUMA[0]) + f(colour[1] * LUMA[1])) + f(colour[2] * LUMA[2]));
}

/** The box of pixels that differ from the backdrop by more than 5% in any channel, or null. */
function trimBox(rgb, width, height, bg) {
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (Math.abs(rgb[i] - bg[0]) > TRIM_TOLERANCE || Math.abs(rgb[i + 1] - bg[1]) > TRIM_TOLERANCE
          || Math.abs(rgb[i + 2] - bg[2]) > TRIM_TOLERANCE) {
        if (y < top) top = y;
        bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return bottom < 0 ? null : [left, top, right + 1, bottom + 1];
}

/** The pixels of `box` [left, top, right, bottom] (Image.crop inside the picture). */
function crop(pixels, width, channels, [left, top, right, bottom]) {
  const line = (right - left) * channels;
  const out = new Uint8Array(line * (bottom - top));
  for (let y = top; y < bottom; y++) {
    const from = (y * width + left) * channels;
    out.set(pixels.subarray(from, from + line), (y - top) * line);
  }
  return out;
}

/** fashion-mnist-v1: decoded RGBA -> 28 x 28 grey bytes; throws on a blank (single-colour) picture. */
function fashionMnist(rgba, width, height) {
  const rgb = compositeOnto(rgba, width * height, WHITE);
  const bg = backdrop(rgb, width, height);
  const bgLuma = lumaF32(bg);
  const dark = bgLuma < DARK;
  if (dark && width === SIZE && height === SIZE) return grey(rgb, SIZE * SIZE);   // already in the dataset's style
  const box = trimBox(rgb, width, height, bg);
  if (!box) throw new Error("no garment found: the picture is a single colour (blank frame?)");
  const [boxWidth, boxHeight] = [box[2] - box[0], box[3] - box[1]];
  const scale = SIZE / Math.max(boxWidth, boxHeight);
  const w = Math.max(1, roundHalfEven(boxWidth * scale));
  const h = Math.max(1, roundHalfEven(boxHeight * scale));
  const resized = resample(crop(rgb, width, 3, box), boxWidth, boxHeight, 3, w, h, FILTERS.box);
  const small = unsharpMask(resized, w, h, 3);

  // Centred on a canvas of the backdrop colour; odd margins put the extra pixel above/left.
  const fill = bg.map(roundHalfEven);
  const canvas = new Uint8Array(SIZE * SIZE * 3);
  for (let i = 0; i < SIZE * SIZE; i++) canvas.set(fill, i * 3);
  const left = Math.floor((SIZE - w + 1) / 2), top = Math.floor((SIZE - h + 1) / 2);
  for (let y = 0; y < h; y++) canvas.set(small.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * SIZE + left) * 3);

  if (dark) return grey(canvas, SIZE * SIZE);
  for (let i = 0; i < canvas.length; i++) canvas[i] = 255 - canvas[i];
  // An off-white backdrop would become a grey floor: stretch so it is 0, in float32 like numpy.
  const f = Math.fround;
  const floor = 255.0 - bgLuma;
  const floor32 = f(floor), gain32 = f(255.0 / (255.0 - floor));
  const pixels = grey(canvas, SIZE * SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    let v = pixels[i];
    if (floor > 0) v = roundHalfEven(f(f(v - floor32) * gain32));
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return pixels;
}

// --- photo-v1 -----------------------------------------------------------------------------------

/** Keras' crop_to_aspect_ratio (photo.py crop_box): the largest centred window of the target aspect. */
export function cropBox([width, height], [targetWidth, targetHeight]) {
  const cropHeight = Math.max(Math.min(height, Math.trunc((width * targetHeight) / targetWidth)), 1);
  const cropWidth = Math.max(Math.min(width, Math.trunc((height * targetWidth) / targetHeight)), 1);
  const top = Math.trunc((height - cropHeight) / 2), left = Math.trunc((width - cropWidth) / 2);
  return [left, top, left + cropWidth, top + cropHeight];
}

/** Keras' pad_to_aspect_ratio (photo.py padded_placement): [[width, height], [left, top]] on the black canvas. */
export function paddedPlacement([width, height], [targetWidth, targetHeight]) {
  const ratio = Math.max(width / targetWidth, height / targetHeight);
  const fitWidth = width / ratio, fitHeight = height / ratio;
  return [[Math.max(1, Math.floor(fitWidth)), Math.max(1, Math.floor(fitHeight))],
    [Math.max(0, Math.floor((targetWidth - fitWidth) / 2)), Math.max(0, Math.floor((targetHeight - fitHeight) / 2))]];
}

function resized(pixels, width, height, channels, outWidth, outHeight, interpolation) {
  if (width === outWidth && height === outHeight) return pixels;
  if (interpolation === "nearest") return resizeNearest(pixels, width, height, channels, outWidth, outHeight);
  return resample(pixels, width, height, channels, outWidth, outHeight, FILTERS[interpolation]);
}

/** photo-v1: decoded upright RGBA -> H x W x C bytes of `input` (a contract from inputContract). */
function photo(rgba, width, height, input) {
  const { resize, interpolation, background } = input.preprocessing.parameters;
  let pixels = compositeOnto(rgba, width * height, background);
  const channels = input.channels;
  if (channels === 1) pixels = grey(pixels, width * height);
  const target = [input.width, input.height];
  if (resize === "crop") {
    const box = cropBox([width, height], target);
    if (box[0] !== 0 || box[1] !== 0 || box[2] !== width || box[3] !== height) {
      pixels = crop(pixels, width, channels, box);
      [width, height] = [box[2] - box[0], box[3] - box[1]];
    }
  }
  if (resize === "pad") {
    const [[fitWidth, fitHeight], [left, top]] = paddedPlacement([width, height], target);
    const fitted = resized(pixels, width, height, channels, fitWidth, fitHeight, interpolation);
    const canvas = new Uint8Array(input.height * input.width * channels);   // zeros: black
    const line = fitWidth * channels;
    for (let y = 0; y < fitHeight; y++) {
      canvas.set(fitted.subarray(y * line, (y + 1) * line), ((top + y) * input.width + left) * channels);
    }
    return canvas;
  }
  return resized(pixels, width, height, channels, input.width, input.height, interpolation);
}

// --- the registry -------------------------------------------------------------------------------

function choice(values) {
  return (value, name) => {
    if (!values.includes(value)) {
      throw new Error(`preprocessing parameter ${name} must be one of ${values.join(", ")}, not ${JSON.stringify(value)}`);
    }
    return value;
  };
}

function rgbColour(value, name) {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
    throw new Error(`preprocessing parameter ${name} must be three integers 0..255, not ${JSON.stringify(value)}`);
  }
  return Object.freeze([...value]);
}

/**
 * Recipe id -> {parameters: name -> [default, read], fits(input) -> why not or null,
 * frame(rgba, width, height, input) -> Uint8Array of input.height * input.width * input.channels}.
 */
export const RECIPES = Object.freeze({
  "fashion-mnist-v1": Object.freeze({
    parameters: {},
    fits: (input) => (input.height === SIZE && input.width === SIZE && input.channels === 1 ? null
      : `takes ${SIZE}x${SIZE}x1 grayscale input, not ${input.height}x${input.width}x${input.channels}`),
    frame: (rgba, width, height) => fashionMnist(rgba, width, height),
  }),
  "photo-v1": Object.freeze({
    parameters: {
      resize: ["stretch", choice(["stretch", "crop", "pad"])],
      interpolation: ["bilinear", choice(["bilinear", "nearest", "bicubic", "lanczos", "box"])],
      background: [WHITE, rgbColour],
    },
    fits: () => null,
    frame: photo,
  }),
});

function positive(value, name) {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`manifest.json input.${name} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * manifest.json's `input` (schema 3, or schema 2's {shape, preprocessing: "fashion-mnist-v1"}) as
 * {height, width, channels, colour, preprocessing: {id, parameters (defaults filled in)}}. Throws,
 * naming the recipe, when the bundle wants preprocessing this module does not implement.
 */
export function inputContract(input) {
  if (!input || typeof input !== "object") throw new Error("manifest.json has no input contract");
  const schema2 = typeof input.preprocessing === "string";
  const [, height, width, channels] = schema2 ? (input.shape ?? []) : [1, input.height, input.width, input.channels];
  const id = schema2 ? input.preprocessing : input.preprocessing?.id;
  const recipe = Object.hasOwn(RECIPES, id) ? RECIPES[id] : null;
  if (!recipe) {
    throw new Error(`the bundle's preprocessing ${JSON.stringify(id)} is not implemented here `
      + `(this app implements ${Object.keys(RECIPES).join(", ")})`);
  }
  const given = (schema2 ? {} : input.preprocessing.parameters) ?? {};
  const unknown = Object.keys(given).filter((name) => !Object.hasOwn(recipe.parameters, name));
  if (unknown.length) throw new Error(`${id} takes no parameter ${unknown[0]}`);
  const parameters = Object.fromEntries(Object.entries(recipe.parameters).map(
    ([name, [fallback, read]]) => [name, name in given ? read(given[name], name) : fallback]));
  const contract = {
    height: positive(height, "height"), width: positive(width, "width"), channels: positive(channels, "channels"),
    colour: channels === 1 ? "grayscale" : "rgb",
    preprocessing: Object.freeze({ id, parameters: Object.freeze(parameters) }),
  };
  if (channels !== 1 && channels !== 3) throw new Error(`manifest.json input.channels must be 1 or 3, not ${channels}`);
  if (!schema2 && input.colour !== contract.colour) {
    throw new Error(`manifest.json input.colour ${JSON.stringify(input.colour)} does not match ${channels} channel(s)`);
  }
  const why = recipe.fits(contract);
  if (why) throw new Error(`preprocessing ${id} ${why}`);
  return Object.freeze(contract);
}

// Each manifest input (or contract) read once: a camera loop calls preprocessFor for every frame.
const contracts = new WeakMap();

/** Decoded upright RGBA pixels -> the frame `input` describes (a manifest's input, either schema, or a contract). */
export function preprocessFor(input, rgba, width, height) {
  if (!(width >= 1 && height >= 1 && rgba.length >= width * height * 4)) {
    throw new Error(`expected ${width}x${height} RGBA pixels (${width * height * 4} bytes), got ${rgba.length}`);
  }
  let contract = contracts.get(input);
  if (!contract) {
    contract = Object.isFrozen(input) && input.preprocessing?.parameters ? input : inputContract(input);
    contracts.set(input, contract);
  }
  return RECIPES[contract.preprocessing.id].frame(rgba, width, height, contract);
}
