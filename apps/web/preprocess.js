// Preprocessing `fashion-mnist-v1` in JavaScript: an image -> 28x28 uint8, garment bright on black.
//
// The reference is fashion_edge/runtime/preprocess.py (Pillow + numpy); docs/embedding.md lists
// the steps. The browser only decodes (createImageBitmap applies EXIF orientation); every step
// after that is ported here, integer for integer, from the Pillow C code the reference calls,
// because canvas resampling and filters differ from Pillow's and from one browser to another:
//   alpha onto white    Pillow AlphaComposite.c (scalar path)
//   trim, background    backdrop.py (Backdrop.of_image, Backdrop.trim_box), preprocess.py (_trim)
//   resize (BOX)        Pillow Resample.c: horizontal then vertical pass, 22-bit fixed point,
//                       uint8 in between
//   unsharp mask        Pillow UnsharpMask.c + BoxBlur.c (Gaussian as 3 extended box blurs)
//   pad, negate, grey   Image.paste / ImageOps.invert / convert("L") (ITU-R 601, 16-bit fixed point)
//   backdrop stretch    preprocess.py, in float32 as numpy does it
// The pure functions take and return plain typed arrays, so Node can check them against Pillow
// without a browser (tests/apps/test_web_app.py does, on many random images).

export const SIZE = 28;
const TRIM_TOLERANCE = Math.fround(0.05 * 255);
const DARK = 128;
const MAX_PIXELS = 50_000_000;          // as the Python runtime: bigger claims are refused
const LUMA = [0.299, 0.587, 0.114].map(Math.fround);

/** Python's round(): halves go to the even neighbour (numpy's rint does the same). */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// --- decoding (browser only) -------------------------------------------------------------------

/** A 2D context to read pixels back from (OffscreenCanvas where there is one: Safari < 16.4 has not). */
export function readbackContext(width, height) {
  const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(width, height)
    : Object.assign(document.createElement("canvas"), { width, height });
  return canvas.getContext("2d", { willReadFrequently: true });
}

/** A Blob/File -> {rgba, width, height}, upright (EXIF orientation applied), not colour-managed. */
export async function decode(blob) {
  let bitmap;
  try {
    // "none": no ICC/gamma conversion and no premultiplication, as Pillow decodes.
    bitmap = await createImageBitmap(blob, {
      imageOrientation: "from-image", premultiplyAlpha: "none", colorSpaceConversion: "none",
    });
  } catch (error) {
    throw new Error(`not an image this browser can decode (${error.message || error})`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw new Error(`${width}x${height} is over ${MAX_PIXELS.toLocaleString()} pixels`);
  }
  const context = readbackContext(width, height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: context.getImageData(0, 0, width, height).data, width, height };
}

// --- the conversion (pure) ---------------------------------------------------------------------

/** RGBA -> RGB with transparency composited onto white, exactly as Pillow's alpha_composite. */
export function toRgb(rgba, width, height) {
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      if (a === 255) { rgb[i * 3 + c] = rgba[i * 4 + c]; continue; }
      // coef1 = a * 128, coef2 = (255 - a) * 128 when the backdrop is opaque (7 precision bits).
      const tmp = rgba[i * 4 + c] * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7);
      rgb[i * 3 + c] = (((tmp >>> 8) + tmp) >>> 8) >>> 7;
    }
  }
  return rgb;
}

/** The median of the four corner pixels, per channel (float32, as numpy computes it). */
function background(rgb, width, height) {
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

/** The box of pixels that differ from the background by more than 5% in any channel, or null. */
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
  return bottom < 0 ? null : { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
}

function crop(rgb, width, box) {
  const out = new Uint8Array(box.width * box.height * 3);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * width + box.x) * 3;
    out.set(rgb.subarray(from, from + box.width * 3), y * box.width * 3);
  }
  return out;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the BOX filter (support 0.5).
function boxCoefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 0.5 * filterScale;
  const taps = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const weights = [];
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const t = (x + xmin - center + 0.5) / filterScale;
      const w = t > -0.5 && t <= 0.5 ? 1 : 0;
      weights.push(w);
      total += w;
    }
    const fixed = weights.map((w) => Math.trunc(0.5 + (total ? w / total : w) * (1 << 22)));
    taps.push({ start: xmin, weights: fixed });
  }
  return taps;
}

// One separable pass of RGB uint8: `lines` lines, each resampled along its own axis. Index of
// channel c at position p of line l: l * step.srcLine + p * step.srcPos + c (and dst* for output).
function resamplePass(src, dst, taps, lines, step) {
  for (let l = 0; l < lines; l++) {
    for (let o = 0; o < taps.length; o++) {
      const { start, weights } = taps[o];
      for (let c = 0; c < 3; c++) {
        let sum = 1 << 21;                                  // rounding: half of 1 << 22
        for (let k = 0; k < weights.length; k++) sum += src[l * step.srcLine + (start + k) * step.srcPos + c] * weights[k];
        const v = Math.floor(sum / (1 << 22));
        dst[l * step.dstLine + o * step.dstPos + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
}

function resizeRows(rgb, width, height, outWidth) {        // horizontal pass: each row shrinks
  const out = new Uint8Array(outWidth * height * 3);
  resamplePass(rgb, out, boxCoefficients(width, outWidth), height,
    { srcLine: width * 3, srcPos: 3, dstLine: outWidth * 3, dstPos: 3 });
  return out;
}

function resizeColumns(rgb, width, height, outHeight) {     // vertical pass: each column shrinks
  const out = new Uint8Array(width * outHeight * 3);
  resamplePass(rgb, out, boxCoefficients(height, outHeight), width,
    { srcLine: 3, srcPos: width * 3, dstLine: 3, dstPos: width * 3 });
  return out;
}

/**
 * Image.resize(size, BOX) for RGB: area averaging, Pillow's fixed-point arithmetic. The passes
 * round to uint8 in between, so their order matters (by one level, here and there): Pillow 13
 * runs the vertical pass first when the height loses more than twice as many pixels as the width
 * (checked against Pillow on thousands of random sizes), older Pillow always
 * horizontal first.
 */
export function boxResize(rgb, width, height, outWidth, outHeight) {
  let out = rgb;
  if (height - outHeight > 2 * (width - outWidth)) {
    if (outHeight !== height) out = resizeColumns(out, width, height, outHeight);
    if (outWidth !== width) out = resizeRows(out, width, outHeight, outWidth);
  } else {
    if (outWidth !== width) out = resizeRows(out, width, height, outWidth);
    if (outHeight !== height) out = resizeColumns(out, outWidth, height, outHeight);
  }
  return out === rgb ? rgb.slice() : out;
}

// Pillow's _gaussian_blur_radius, in float32 as the C code computes it.
function gaussianBoxRadius(radius, passes) {
  const f = Math.fround;
  const sigma2 = f(f(radius * radius) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f(Math.floor((L - 1.0) / 2.0));
  let a = f(f(2 * l + 1) * f(f(l * f(l + 1)) - f(3 * sigma2)));
  a = f(a / f(6 * f(sigma2 - f(f(l + 1) * f(l + 1)))));
  return f(l + a);
}

// One extended box blur along lines (Pillow's ImagingLineBoxBlur): edges repeat the end pixels.
function boxBlurLines(data, lines, length, lineStep, pixelStep, floatRadius) {
  const r = Math.trunc(floatRadius);
  const ww = Math.trunc(Math.fround((1 << 24) / Math.fround(floatRadius * 2 + 1)));
  const fw = Math.trunc(((1 << 24) - (r * 2 + 1) * ww) / 2);
  const line = new Uint8Array(length);
  const at = (i) => line[i < 0 ? 0 : i >= length ? length - 1 : i];
  for (let l = 0; l < lines; l++) {
    for (let c = 0; c < 3; c++) {
      const base = l * lineStep + c;
      for (let i = 0; i < length; i++) line[i] = data[base + i * pixelStep];
      for (let x = 0; x < length; x++) {
        let acc = 0;
        for (let k = -r; k <= r; k++) acc += at(x + k);
        const bulk = acc * ww + (at(x - r - 1) + at(x + r + 1)) * fw;
        data[base + x * pixelStep] = Math.floor((bulk + (1 << 23)) / (1 << 24));
      }
    }
  }
}

/** ImageFilter.UnsharpMask(radius, percent, threshold=0) for RGB. */
export function unsharpMask(rgb, width, height, radius = 1.0, percent = 50) {
  const blurred = rgb.slice();
  const boxRadius = gaussianBoxRadius(radius, 3);
  if (boxRadius !== 0) {
    for (let pass = 0; pass < 3; pass++) boxBlurLines(blurred, height, width, width * 3, 3, boxRadius);
    for (let pass = 0; pass < 3; pass++) boxBlurLines(blurred, width, height, 3, width * 3, boxRadius);
  }
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const diff = rgb[i] - blurred[i];
    // C integer division truncates toward zero; threshold 0 means "diff != 0".
    const v = diff !== 0 ? rgb[i] + Math.trunc((diff * percent) / 100) : rgb[i];
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** convert("L"): ITU-R 601-2 luma in 16-bit fixed point, rounded. */
function grey(rgb, i) {
  return (rgb[i] * 19595 + rgb[i + 1] * 38470 + rgb[i + 2] * 7471 + 0x8000) >>> 16;
}

/**
 * fashion-mnist-v1 from decoded RGB pixels. Returns {pixels: Uint8Array(784), background,
 * box (the crop, or null when the picture passed through), dark (no negation)}.
 */
export function preprocessRgb(rgb, width, height) {
  const bg = background(rgb, width, height);
  const bgLuma = lumaF32(bg);
  const dark = bgLuma < DARK;
  const pixels = new Uint8Array(SIZE * SIZE);
  if (dark && width === SIZE && height === SIZE) {         // already in the dataset's style
    for (let i = 0; i < SIZE * SIZE; i++) pixels[i] = grey(rgb, i * 3);
    return { pixels, background: bg, box: null, dark };
  }
  const box = trimBox(rgb, width, height, bg);
  if (!box) throw new Error("no garment found: the picture is a single colour (blank frame?)");
  const scale = SIZE / Math.max(box.width, box.height);
  const w = Math.max(1, roundHalfEven(box.width * scale));
  const h = Math.max(1, roundHalfEven(box.height * scale));
  const small = unsharpMask(boxResize(crop(rgb, width, box), box.width, box.height, w, h), w, h);

  // Centred on a canvas of the background colour; odd margins put the extra pixel above/left.
  const fill = bg.map(roundHalfEven);
  const canvas = new Uint8Array(SIZE * SIZE * 3);
  for (let i = 0; i < SIZE * SIZE; i++) canvas.set(fill, i * 3);
  const left = Math.floor((SIZE - w + 1) / 2), top = Math.floor((SIZE - h + 1) / 2);
  for (let y = 0; y < h; y++) canvas.set(small.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * SIZE + left) * 3);

  if (dark) {
    for (let i = 0; i < SIZE * SIZE; i++) pixels[i] = grey(canvas, i * 3);
    return { pixels, background: bg, box, dark };
  }
  for (let i = 0; i < canvas.length; i++) canvas[i] = 255 - canvas[i];
  // An off-white backdrop would become a grey floor: stretch so it is 0, in float32 like numpy.
  const f = Math.fround;
  const floor = 255.0 - bgLuma;
  const floor32 = f(floor), gain32 = f(255.0 / (255.0 - floor));
  for (let i = 0; i < SIZE * SIZE; i++) {
    let v = grey(canvas, i * 3);
    if (floor > 0) v = roundHalfEven(f(f(v - floor32) * gain32));
    pixels[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { pixels, background: bg, box, dark };
}

/** RGBA pixels (a decoded file, a camera frame) -> the preprocessing result. */
export function preprocessRgba(rgba, width, height) {
  return preprocessRgb(toRgb(rgba, width, height), width, height);
}

/** A Blob/File -> the preprocessing result (see preprocessRgb). */
export async function preprocessBlob(blob) {
  const { rgba, width, height } = await decode(blob);
  return preprocessRgba(rgba, width, height);
}
