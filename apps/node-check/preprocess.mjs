// fashion-mnist-v1 in JavaScript: an encoded photo (JPEG or PNG bytes) -> 28x28 uint8 pixels, as the
// Python runtime computes them (fashion_edge.runtime.preprocess), checked against the bundle's
// preprocessing vectors (golden.json "preprocessing_vectors") by check.mjs.
//
// Decoding: jpeg-js and pngjs (pure JavaScript, no native code). This port decodes at full size and
// runs the full-resolution pipeline; the Python runtime decodes big JPEGs at 1/2..1/8 with libjpeg's
// DCT scaling and places the trim box inside the reduced blocks, and jpeg-js's IDCT and chroma
// upsampling differ from libjpeg-turbo's by a level or two. Both differences are what the vectors'
// tolerance is for. Everything after decoding follows Pillow's C code exactly (BOX resize in 22-bit
// fixed point, the 3-pass extended box blur of UnsharpMask, ITU-R 601 luma in 16-bit fixed point).
//
// Steps (Xiao, Rasul, Vollgraf 2017, section 2): EXIF orientation; alpha onto white; backdrop = the
// per-channel median of the four corners (dark if its luma < 128); trim to the pixels more than 5% of
// full scale from it in some channel; BOX-resize the longest edge to 28; UnsharpMask(radius 1, 50%,
// threshold 0); centre on a 28x28 canvas of the backdrop colour; negate and stretch an off-white
// backdrop to 0 (light backdrops) or keep (dark); 8-bit grey. A 28x28 dark picture passes unchanged.
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

export const SIZE = 28;
const DARK = 128;
const TRIM_TOLERANCE = 0.05 * 255;

// ---- decoding --------------------------------------------------------------------------------

function isPng(bytes) {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

// EXIF orientation from a TIFF block (the payload of a JPEG APP1 "Exif\0\0" segment or a PNG eXIf chunk).
function tiffOrientation(view, start) {
  const little = view.getUint16(start) === 0x4949; // "II"
  const u16 = (at) => view.getUint16(start + at, little);
  const u32 = (at) => view.getUint32(start + at, little);
  const ifd = u32(4);
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + 12 * i;
    if (u16(entry) === 0x0112) return u16(entry + 8);
  }
  return 1;
}

function jpegOrientation(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    const length = view.getUint16(at + 2);
    if (marker === 0xda) break; // start of scan: no more metadata
    if (marker === 0xe1 && String.fromCharCode(...bytes.subarray(at + 4, at + 10)) === "Exif\0\0") {
      return tiffOrientation(view, at + 10);
    }
    at += 2 + length;
  }
  return 1;
}

function pngOrientation(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === "eXIf") return tiffOrientation(view, at + 8);
    if (type === "IEND") break;
    at += 12 + length;
  }
  return 1;
}

// Pillow's alpha_composite of a pixel onto opaque white, per channel: round(c a / 255 + 255 (1 - a / 255)).
function onWhite(c, a) {
  if (a === 255) return c;
  const y = c * a + 255 * (255 - a) + 128;
  return (y + (y >> 8)) >> 8;
}

// bytes -> { width, height, rgb (Uint8Array, 3 per pixel), orientation } as stored (not yet upright).
export function decode(bytes) {
  let width, height, rgba, orientation;
  if (isPng(bytes)) {
    const png = PNG.sync.read(Buffer.from(bytes)); // any colour type and depth -> RGBA 8-bit (16-bit rounded)
    ({ width, height } = png);
    rgba = png.data;
    orientation = pngOrientation(bytes);
  } else {
    const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    ({ width, height } = image);
    rgba = image.data;
    orientation = jpegOrientation(bytes);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    const a = rgba[j + 3];
    rgb[3 * i] = onWhite(rgba[j], a);
    rgb[3 * i + 1] = onWhite(rgba[j + 1], a);
    rgb[3 * i + 2] = onWhite(rgba[j + 2], a);
  }
  return { width, height, rgb, orientation };
}

// ---- geometry --------------------------------------------------------------------------------

// Pillow's Image.transpose methods that make each EXIF orientation upright (ImageOps.exif_transpose).
// Each maps an upright pixel (x, y) of an upright image (w, h) to the stored pixel it comes from.
const UPRIGHT = {
  2: (x, y, w, h) => [w - 1 - x, y], // FLIP_LEFT_RIGHT
  3: (x, y, w, h) => [w - 1 - x, h - 1 - y], // ROTATE_180
  4: (x, y, w, h) => [x, h - 1 - y], // FLIP_TOP_BOTTOM
  5: (x, y) => [y, x], // TRANSPOSE
  6: (x, y, w) => [y, w - 1 - x], // ROTATE_270
  7: (x, y, w, h) => [h - 1 - y, w - 1 - x], // TRANSVERSE
  8: (x, y, w, h) => [h - 1 - y, x], // ROTATE_90
};

export function upright({ width, height, rgb, orientation }) {
  const map = UPRIGHT[orientation];
  if (!map) return { width, height, rgb };
  const [w, h] = orientation >= 5 ? [height, width] : [width, height];
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = map(x, y, w, h);
      const from = 3 * (sy * width + sx);
      const to = 3 * (y * w + x);
      out[to] = rgb[from];
      out[to + 1] = rgb[from + 1];
      out[to + 2] = rgb[from + 2];
    }
  }
  return { width: w, height: h, rgb: out };
}

function crop({ width, rgb }, [left, top, right, bottom]) {
  const w = right - left;
  const h = bottom - top;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    out.set(rgb.subarray(3 * ((top + y) * width + left), 3 * ((top + y) * width + right)), 3 * y * w);
  }
  return { width: w, height: h, rgb: out };
}

// ---- backdrop and trim -----------------------------------------------------------------------

// Per channel, twice the median of the four corners (the sum of the middle two): an exact integer.
export function backdrop({ width, height, rgb }) {
  const corners = [0, width - 1, (height - 1) * width, height * width - 1];
  const doubled = [0, 1, 2].map((c) => {
    const v = corners.map((p) => rgb[3 * p + c]).sort((a, b) => a - b);
    return v[1] + v[2];
  });
  const luma2000 = 299 * doubled[0] + 587 * doubled[1] + 114 * doubled[2];
  return { doubled, dark: luma2000 < DARK * 2000, luma: luma2000 / 2000 };
}

function trimBox({ width, height, rgb }, { doubled }) {
  let left = width, top = height, right = -1, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 3 * (y * width + x);
      if (Math.abs(2 * rgb[i] - doubled[0]) > 2 * TRIM_TOLERANCE || Math.abs(2 * rgb[i + 1] - doubled[1]) > 2 * TRIM_TOLERANCE
        || Math.abs(2 * rgb[i + 2] - doubled[2]) > 2 * TRIM_TOLERANCE) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  return right < 0 ? null : [left, top, right + 1, bottom + 1];
}

// ---- Pillow's BOX resize (Resample.c, 8 bits per channel) --------------------------------------

const PRECISION_BITS = 32 - 8 - 2;

function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 0.5 * filterscale;
  const ss = 1 / filterscale;
  const bounds = [];
  const kernels = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = (x + xmin - center + 0.5) * ss;
      const w = t > -0.5 && t <= 0.5 ? 1 : 0;
      k.push(w);
      ww += w;
    }
    // normalize_coeffs_8bpc: fixed point, rounded half away from zero (all weights are >= 0 here)
    kernels.push(k.map((w) => Math.trunc(0.5 + (ww !== 0 ? w / ww : w) * (1 << PRECISION_BITS))));
    bounds.push(xmin);
  }
  return { bounds, kernels };
}

function clip8(ss) {
  const v = Math.floor(ss / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// One pass along x (horizontal) of an RGB image; vertical passes run on the transposed image.
function resampleRows({ width, height, rgb }, outWidth) {
  const { bounds, kernels } = coefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * 3);
  for (let y = 0; y < height; y++) {
    for (let xx = 0; xx < outWidth; xx++) {
      const k = kernels[xx];
      for (let c = 0; c < 3; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < k.length; x++) ss += rgb[3 * (y * width + bounds[xx] + x) + c] * k[x];
        out[3 * (y * outWidth + xx) + c] = clip8(ss);
      }
    }
  }
  return { width: outWidth, height, rgb: out };
}

function transposed({ width, height, rgb }) {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) out[3 * (x * height + y) + c] = rgb[3 * (y * width + x) + c];
    }
  }
  return { width: height, height: width, rgb: out };
}

export function resizeBox(image, [w, h]) {
  let out = image.width !== w ? resampleRows(image, w) : image; // horizontal first, as Pillow
  if (out.height !== h) out = transposed(resampleRows(transposed(out), h));
  return out;
}

// ---- Pillow's UnsharpMask (UnsharpMask.c over BoxBlur.c's 3-pass extended box blur) -------------

const f32 = Math.fround;

// _gaussian_blur_radius in C float arithmetic.
function boxRadius(radius, passes) {
  const sigma2 = f32(f32(radius * radius) / passes);
  const L = f32(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f32(Math.floor((L - 1.0) / 2.0));
  let a = f32(f32(f32(2 * l) + 1) * f32(f32(l * f32(l + 1)) - f32(3 * sigma2)));
  a = f32(a / f32(6 * f32(sigma2 - f32(f32(l + 1) * f32(l + 1)))));
  return f32(l + a);
}

// ImagingLineBoxBlur on one line of single-channel values.
function blurLine(line, floatRadius) {
  const n = line.length;
  const lastx = n - 1;
  const radius = Math.trunc(floatRadius);
  const ww = Math.trunc(f32((1 << 24) / f32(floatRadius * 2 + 1)));
  const fw = Math.trunc(((1 << 24) - (radius * 2 + 1) * ww) / 2);
  const edgeA = Math.min(radius + 1, n);
  const edgeB = Math.max(n - radius - 1, 0);
  const out = new Uint8Array(n);
  const save = (x, bulk) => { out[x] = Math.floor((bulk + (1 << 23)) / (1 << 24)); };
  let acc = line[0] * (radius + 1);
  for (let x = 0; x < edgeA - 1; x++) acc += line[x];
  acc += line[lastx] * (radius - edgeA + 1);
  if (edgeA <= edgeB) {
    for (let x = 0; x < edgeA; x++) {
      acc += line[x + radius] - line[0];
      save(x, acc * ww + (line[0] + line[x + radius + 1]) * fw);
    }
    for (let x = edgeA; x < edgeB; x++) {
      acc += line[x + radius] - line[x - radius - 1];
      save(x, acc * ww + (line[x - radius - 1] + line[x + radius + 1]) * fw);
    }
    for (let x = edgeB; x <= lastx; x++) {
      acc += line[lastx] - line[x - radius - 1];
      save(x, acc * ww + (line[x - radius - 1] + line[lastx]) * fw);
    }
  } else {
    for (let x = 0; x < edgeB; x++) {
      acc += line[x + radius] - line[0];
      save(x, acc * ww + (line[0] + line[x + radius + 1]) * fw);
    }
    for (let x = edgeB; x < edgeA; x++) {
      acc += line[lastx] - line[0];
      save(x, acc * ww + (line[0] + line[lastx]) * fw);
    }
    for (let x = edgeA; x <= lastx; x++) {
      acc += line[lastx] - line[x - radius - 1];
      save(x, acc * ww + (line[x - radius - 1] + line[lastx]) * fw);
    }
  }
  return out;
}

function blurRows({ width, height, rgb }, floatRadius, passes) {
  const out = new Uint8Array(rgb);
  const line = new Uint8Array(width);
  for (let y = 0; y < height; y++) {
    for (let c = 0; c < 3; c++) {
      for (let x = 0; x < width; x++) line[x] = out[3 * (y * width + x) + c];
      let blurred = line;
      for (let p = 0; p < passes; p++) blurred = blurLine(blurred, floatRadius);
      for (let x = 0; x < width; x++) out[3 * (y * width + x) + c] = blurred[x];
    }
  }
  return { width, height, rgb: out };
}

export function unsharpMask(image, radius = 1.0, percent = 50, threshold = 0) {
  const r = boxRadius(radius, 3);
  const blurred = transposed(blurRows(transposed(blurRows(image, r, 3)), r, 3));
  const out = new Uint8Array(image.rgb.length);
  for (let i = 0; i < out.length; i++) {
    const diff = image.rgb[i] - blurred.rgb[i];
    const v = Math.abs(diff) > threshold ? image.rgb[i] + Math.trunc((diff * percent) / 100) : image.rgb[i];
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { width: image.width, height: image.height, rgb: out };
}

// ---- the pipeline ------------------------------------------------------------------------------

// Python's round(): halves to even.
function roundHalfEven(v) {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function luma(r, g, b) {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; // Pillow's convert("L")
}

// The off-white stretch as numpy computes it: float32 (grey - floor) * float32(255 / (255 - floor)), rint.
function stretch(grey, floor) {
  const factor = f32(255.0 / (255.0 - floor));
  const v = f32(f32(grey - f32(floor)) * factor);
  const r = roundHalfEven(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

// A decoded upright RGB image -> 28x28 pixels (Uint8Array of 784), or throws on a blank picture.
export function toDatasetStyle(image) {
  const back = backdrop(image);
  if (back.dark && image.width === SIZE && image.height === SIZE) {
    return Uint8Array.from({ length: SIZE * SIZE }, (_, i) => luma(image.rgb[3 * i], image.rgb[3 * i + 1], image.rgb[3 * i + 2]));
  }
  const box = trimBox(image, back);
  if (!box) throw new Error("no garment found: the picture is a single colour");
  const [w, h] = [box[2] - box[0], box[3] - box[1]];
  const scale = SIZE / Math.max(w, h);
  const size = [Math.max(1, roundHalfEven(w * scale)), Math.max(1, roundHalfEven(h * scale))];
  const small = unsharpMask(resizeBox(crop(image, box), size));
  const fill = back.doubled.map((v) => roundHalfEven(v / 2));
  const [left, top] = [Math.floor((SIZE - size[0] + 1) / 2), Math.floor((SIZE - size[1] + 1) / 2)];
  const floor = 255 - back.luma;
  const out = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inside = x >= left && x < left + size[0] && y >= top && y < top + size[1];
      const i = 3 * ((y - top) * size[0] + (x - left));
      const [r, g, b] = inside ? [small.rgb[i], small.rgb[i + 1], small.rgb[i + 2]] : fill;
      if (back.dark) {
        out[y * SIZE + x] = luma(r, g, b);
      } else {
        const grey = luma(255 - r, 255 - g, 255 - b);
        out[y * SIZE + x] = floor > 0 ? stretch(grey, floor) : grey;
      }
    }
  }
  return out;
}

export function preprocess(bytes) {
  return toDatasetStyle(upright(decode(bytes)));
}
