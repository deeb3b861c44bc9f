/**
 * Optional OpenCV (through @techstark/opencv-js, a dev dependency) for the classical
 * peers of the benchmarks: Telea and Navier-Stokes inpainting. Absent → null.
 */
import { RgbImage } from '../image/io';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CV = any;
let cvPromise: Promise<CV | null> | null = null;

export function loadOpenCv(): Promise<CV | null> {
  if (!cvPromise) {
    cvPromise = (async () => {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        let cv = require('@techstark/opencv-js');
        if (cv instanceof Promise) cv = await cv;
        else if (!cv.Mat) await new Promise<void>((r) => (cv.onRuntimeInitialized = () => r()));
        // The Emscripten module is a thenable whose then() passes the module itself: resolving
        // a promise with it would recurse forever (and block the event loop). Drop it.
        if (typeof cv.then === 'function') delete cv.then;
        return cv;
      } catch {
        return null;
      }
    })();
  }
  return cvPromise;
}

/** OpenCV inpainting of the pixels where `holes[i]` is set; `method`: telea or ns. */
export function cvInpaint(cv: CV, img: RgbImage, holes: Uint8Array, method: 'telea' | 'ns', radius = 3): RgbImage {
  const { width: W, height: H } = img;
  const src = new cv.Mat(H, W, cv.CV_8UC3);
  const mask = new cv.Mat(H, W, cv.CV_8UC1);
  const dst = new cv.Mat();
  try {
    src.data.set(img.data);
    for (let i = 0; i < W * H; i++) mask.data[i] = holes[i] ? 255 : 0;
    cv.inpaint(src, mask, dst, radius, method === 'telea' ? cv.INPAINT_TELEA : cv.INPAINT_NS);
    return { width: W, height: H, data: new Uint8Array(dst.data) };
  } finally {
    src.delete();
    mask.delete();
    dst.delete();
  }
}
