// Decoding in the browser: a Blob/File or a video frame -> upright RGBA pixels for preprocess.js.
// createImageBitmap applies EXIF orientation; "none" asks for no colour management and no
// premultiplication, as Pillow decodes. The browser's JPEG decoder is not libjpeg-turbo at Python's
// DCT-scaled 1/k: the bundle's preprocessing vectors state the tolerance that covers the difference.

const MAX_PIXELS = 50_000_000;          // as the Python runtime: bigger claims are refused

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
