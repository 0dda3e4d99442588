// Decoding for Node: JPEG or PNG bytes -> upright RGBA pixels, what the page gets from createImageBitmap.
// Everything after decoding is the shared preprocessing module (../web/preprocess.js).
//
// jpeg-js and pngjs are pure JavaScript (no native code). They decode in full, where the Python
// runtime decodes a large JPEG at 1/2..1/8 by libjpeg's DCT scaling, and jpeg-js's IDCT and chroma
// upsampling differ from libjpeg-turbo's by a level or two; pngjs rounds 16-bit samples to 8 bits
// half up where Python rounds half to even. The bundle's preprocessing vectors state the tolerance
// that covers these differences. EXIF orientation is read here (APP1 "Exif" in a JPEG, eXIf in a PNG)
// and applied as Pillow's ImageOps.exif_transpose does.
import jpeg from "jpeg-js";
import { PNG } from "pngjs";

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

// Pillow's Image.transpose methods that make each EXIF orientation upright (ImageOps.exif_transpose).
// Each maps an upright pixel (x, y) of an upright image (w, h) to the stored pixel it comes from.
const UPRIGHT = {
  2: (x, y, w) => [w - 1 - x, y], // FLIP_LEFT_RIGHT
  3: (x, y, w, h) => [w - 1 - x, h - 1 - y], // ROTATE_180
  4: (x, y, w, h) => [x, h - 1 - y], // FLIP_TOP_BOTTOM
  5: (x, y) => [y, x], // TRANSPOSE
  6: (x, y, w) => [y, w - 1 - x], // ROTATE_270
  7: (x, y, w, h) => [h - 1 - y, w - 1 - x], // TRANSVERSE
  8: (x, y, w, h) => [h - 1 - y, x], // ROTATE_90
};

function upright({ width, height, rgba }, orientation) {
  const map = UPRIGHT[orientation];
  if (!map) return { width, height, rgba };
  const [w, h] = orientation >= 5 ? [height, width] : [width, height];
  const out = new Uint8Array(rgba.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = map(x, y, w, h);
      out.set(rgba.subarray(4 * (sy * width + sx), 4 * (sy * width + sx) + 4), 4 * (y * w + x));
    }
  }
  return { width: w, height: h, rgba: out };
}

/** JPEG or PNG bytes -> {width, height, rgba (Uint8Array, 4 per pixel)}, EXIF orientation applied. */
export function decode(bytes) {
  if (isPng(bytes)) {
    const png = PNG.sync.read(Buffer.from(bytes)); // any colour type and depth -> RGBA 8-bit
    return upright({ width: png.width, height: png.height, rgba: new Uint8Array(png.data) }, pngOrientation(bytes));
  }
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  return upright({ width: image.width, height: image.height, rgba: image.data }, jpegOrientation(bytes));
}
