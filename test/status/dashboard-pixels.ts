/**
 * Reads a screenshot's pixels back in the browser (a canvas decodes the PNG, so the test needs no
 * image library) and counts the colored ones in a region: chart lines are saturated colors, while
 * the chart's background, grid and labels are white and greys.
 */
import type { Page } from "playwright-core";

/** The little of the DOM used below (the project compiles without lib.dom). */
interface Canvas2d {
  drawImage(image: Image, x: number, y: number): void;
  getImageData(x: number, y: number, width: number, height: number): { readonly data: Uint8ClampedArray };
}
declare const document: {
  createElement(tag: "canvas"): { width: number; height: number; getContext(kind: "2d"): Canvas2d | null };
};
declare class Image {
  src: string;
  readonly width: number;
  readonly height: number;
  decode(): Promise<void>;
}

/** A pixel whose channels differ by more than this is colored (greys differ by a few units). */
const SATURATION_MIN = 60;

/** A region of the screenshot, in CSS pixels (device scale factor 1). */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Colored pixels of `png` inside each of `boxes`, decoded in `page` (on a canvas outside the
 * document, so the page itself is left as it is).
 */
export function countColoredPixels(page: Page, png: Buffer, boxes: readonly Box[]): Promise<number[]> {
  return page.evaluate(
    async ({ data, regions, saturationMin }) => {
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext("2d") as Canvas2d;
      context.drawImage(image, 0, 0);
      return regions.map(({ x, y, width, height }) => {
        const pixels = context.getImageData(
          Math.round(x),
          Math.round(y),
          Math.round(width),
          Math.round(height),
        ).data;
        let colored = 0;
        for (let i = 0; i < pixels.length; i += 4) {
          const [r, g, b] = [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0];
          if (Math.max(r, g, b) - Math.min(r, g, b) > saturationMin) colored++;
        }
        return colored;
      });
    },
    { data: png.toString("base64"), regions: boxes, saturationMin: SATURATION_MIN },
  );
}
