// The Pillow C routines the Python recipes call, in JavaScript, integer for integer, so the page and
// Node compute the bytes Python computes (canvas resampling and filters differ from Pillow's, and
// from one browser to another). Pure functions on interleaved uint8 pixels, `channels` per pixel.
//
//   compositeOnto   AlphaComposite.c (7 precision bits) with an opaque backdrop of any colour
//   grey            Convert.c rgb2l: ITU-R 601-2 luma in 16-bit fixed point
//   resample        Resample.c for 8-bit images: precompute_coeffs + normalize_coeffs_8bpc (22-bit
//                   fixed point), one pass per axis that changes size, uint8 between the passes,
//                   the vertical pass first when the height shrinks by more than twice as many
//                   pixels as the width (Pillow 13's order; the rounding between passes makes the
//                   order visible)
//   resizeNearest   Image.resize(NEAREST): Geometry.c ImagingScaleAffine (double arithmetic)
//   unsharpMask     UnsharpMask.c over BoxBlur.c (a Gaussian as 3 extended box blurs)
// Floating-point steps use IEEE doubles in the C code's order, as C does on x86-64 (no fused
// multiply-add). The one library call, sin() in the Lanczos filter, is V8's fdlibm port here and
// glibc's in Pillow: they differ in the last bit on 3.3% of the arguments (Node 20 against glibc 2.36,
// x86-64), and no weight once rounded to 22 bits does (tests/apps/test_preprocess_js.py measures both).

const PRECISION_BITS = 22;                  // 32 - 8 bits of result - 2 bits for negative lobes
const HALF = 1 << (PRECISION_BITS - 1);

/** Image.alpha_composite(opaque backdrop of `colour`, picture) as RGB: RGBA bytes -> RGB bytes. */
export function compositeOnto(rgba, pixels, colour) {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const a = rgba[i * 4 + 3];
    for (let c = 0; c < 3; c++) {
      if (a === 0) {
        rgb[i * 3 + c] = colour[c];
        continue;
      }
      // Backdrop alpha 255: outa255 = 255 * 255, coef1 = a * 128, coef2 = (255 - a) * 128.
      const outa255 = a * 255 + 255 * (255 - a);
      const coef1 = Math.floor((a * 255 * 255 * 128) / outa255);
      const coef2 = 255 * 128 - coef1;
      const tmp = rgba[i * 4 + c] * coef1 + colour[c] * coef2 + (0x80 << 7);
      rgb[i * 3 + c] = (((tmp >> 8) + tmp) >> 8) >> 7;
    }
  }
  return rgb;
}

/** convert("L") of RGB bytes. */
export function grey(rgb, pixels) {
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    out[i] = (rgb[i * 3] * 19595 + rgb[i * 3 + 1] * 38470 + rgb[i * 3 + 2] * 7471 + 0x8000) >> 16;
  }
  return out;
}

// --- Resample.c ---------------------------------------------------------------------------------

function sinc(x) {
  if (x === 0.0) return 1.0;
  const t = x * Math.PI;
  return Math.sin(t) / t;
}

/** The filters by the recipes' names, with their support (Resample.c's filter structs). */
export const FILTERS = Object.freeze({
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: {
    support: 1.0,
    weight: (x) => {
      if (x < 0.0) x = -x;
      return x < 1.0 ? 1.0 - x : 0.0;
    },
  },
  bicubic: {                                 // a = -0.5
    support: 2.0,
    weight: (x) => {
      if (x < 0.0) x = -x;
      if (x < 1.0) return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
      return 0.0;
    },
  },
  lanczos: { support: 3.0, weight: (x) => (-3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0) },
});

/** precompute_coeffs + normalize_coeffs_8bpc: per output position, its first input and fixed-point taps. */
export function coefficients(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const inverse = 1.0 / filterscale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const taps = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.weight((x + xmin - center + 0.5) * inverse);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? k[x] / ww : k[x];
      taps[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, taps, ksize };
}

function clip8(sum) {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function horizontalPass(src, width, height, channels, outWidth, filter) {
  const { start, count, taps, ksize } = coefficients(width, outWidth, filter);
  const out = new Uint8Array(outWidth * height * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const first = rowIn + start[xx] * channels;
      const n = count[xx];
      const t = xx * ksize;
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let x = 0; x < n; x++) sum += src[first + x * channels + c] * taps[t + x];
        out[rowOut + xx * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

function verticalPass(src, width, height, channels, outHeight, filter) {
  const { start, count, taps, ksize } = coefficients(height, outHeight, filter);
  const line = width * channels;
  const out = new Uint8Array(line * outHeight);
  for (let yy = 0; yy < outHeight; yy++) {
    const first = start[yy] * line;
    const n = count[yy];
    const t = yy * ksize;
    for (let i = 0; i < line; i++) {
      let sum = HALF;
      for (let y = 0; y < n; y++) sum += src[first + y * line + i] * taps[t + y];
      out[yy * line + i] = clip8(sum);
    }
  }
  return out;
}

/** Image.resize((outWidth, outHeight), filter) for 8-bit pixels (L: 1 channel, RGB: 3); a new array. */
export function resample(src, width, height, channels, outWidth, outHeight, filter) {
  const horizontal = (pixels, h) => horizontalPass(pixels, width, h, channels, outWidth, filter);
  const vertical = (pixels, w) => verticalPass(pixels, w, height, channels, outHeight, filter);
  let out = src;
  if (outHeight < height && height - outHeight > 2 * (width - outWidth)) {
    if (outHeight !== height) out = vertical(out, width);
    if (outWidth !== width) out = horizontal(out, outHeight);
  } else {
    if (outWidth !== width) out = horizontal(out, height);
    if (outHeight !== height) out = vertical(out, outWidth);
  }
  return out === src ? src.slice() : out;
}

/** Image.resize(size, NEAREST): the source pixel under each output pixel's centre. */
export function resizeNearest(src, width, height, channels, outWidth, outHeight) {
  const out = new Uint8Array(outWidth * outHeight * channels);          // Pillow fills with 0 first
  const a0 = width / outWidth;
  const a4 = height / outHeight;
  const columns = new Int32Array(outWidth).fill(-1);
  let xo = 0 + a0 * 0.5;
  for (let x = 0; x < outWidth; x++) {
    const xin = xo < 0.0 ? -1 : Math.trunc(xo);
    if (xin >= 0 && xin < width) columns[x] = xin;
    xo += a0;
  }
  let yo = 0 + a4 * 0.5;
  for (let y = 0; y < outHeight; y++) {
    const yin = yo < 0.0 ? -1 : Math.trunc(yo);
    if (yin >= 0 && yin < height) {
      for (let x = 0; x < outWidth; x++) {
        if (columns[x] < 0) continue;
        const from = (yin * width + columns[x]) * channels;
        for (let c = 0; c < channels; c++) out[(y * outWidth + x) * channels + c] = src[from + c];
      }
    }
    yo += a4;
  }
  return out;
}

// --- UnsharpMask.c, BoxBlur.c -------------------------------------------------------------------

// _gaussian_blur_radius, in float32 as the C code computes it.
function gaussianBoxRadius(radius, passes) {
  const f = Math.fround;
  const sigma2 = f(f(radius * radius) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f(Math.floor((L - 1.0) / 2.0));
  let a = f(f(2 * l + 1) * f(f(l * f(l + 1)) - f(3 * sigma2)));
  a = f(a / f(6 * f(sigma2 - f(f(l + 1) * f(l + 1)))));
  return f(l + a);
}

// One extended box blur along lines (ImagingLineBoxBlur): edges repeat the end pixels.
function boxBlurLines(data, channels, lines, length, lineStep, pixelStep, floatRadius) {
  const r = Math.trunc(floatRadius);
  const ww = Math.trunc(Math.fround((1 << 24) / Math.fround(floatRadius * 2 + 1)));
  const fw = Math.trunc(((1 << 24) - (r * 2 + 1) * ww) / 2);
  const line = new Uint8Array(length);
  const at = (i) => line[i < 0 ? 0 : i >= length ? length - 1 : i];
  for (let l = 0; l < lines; l++) {
    for (let c = 0; c < channels; c++) {
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

/** ImageFilter.UnsharpMask(radius, percent, threshold=0). */
export function unsharpMask(pixels, width, height, channels, radius = 1.0, percent = 50) {
  const blurred = pixels.slice();
  const boxRadius = gaussianBoxRadius(radius, 3);
  if (boxRadius !== 0) {
    for (let pass = 0; pass < 3; pass++) boxBlurLines(blurred, channels, height, width, width * channels, channels, boxRadius);
    for (let pass = 0; pass < 3; pass++) boxBlurLines(blurred, channels, width, height, channels, width * channels, boxRadius);
  }
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const diff = pixels[i] - blurred[i];
    // C integer division truncates toward zero; threshold 0 means "diff != 0".
    const v = diff !== 0 ? pixels[i] + Math.trunc((diff * percent) / 100) : pixels[i];
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
