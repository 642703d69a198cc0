/**
 * A 2-D surface as filled contour bands (levels at quantiles of f over the plotted domain, so that
 * valleys get as many contours as slopes) with the optimizers' paths drawn over it.
 */
import type { Surface } from '../surfaces.js';

export interface Path {
  color: string;
  points: readonly (readonly [number, number])[];
}

const LEVELS = 18;
/** Light to dark blue-green: low values light, so the paths stay readable near the minimum. */
const RAMP: [number, number, number][] = [
  [247, 251, 239],
  [204, 235, 197],
  [123, 204, 196],
  [67, 162, 202],
  [8, 104, 172],
  [8, 64, 129],
];

function rampColor(t: number): [number, number, number] {
  const scaled = Math.min(Math.max(t, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(scaled), RAMP.length - 2);
  const f = scaled - i;
  const a = RAMP[i]!;
  const b = RAMP[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

export class SurfacePlot {
  private background: ImageData | null = null;
  private surface: Surface | null = null;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  private toCanvas(surface: Surface, [px, py]: readonly [number, number]): [number, number] {
    const { width, height } = this.canvas;
    const { x, y } = surface.domain;
    return [((px - x[0]) / (x[1] - x[0])) * width, height - ((py - y[0]) / (y[1] - y[0])) * height];
  }

  setSurface(surface: Surface): void {
    const { width, height } = this.canvas;
    const { x, y } = surface.domain;
    const values = new Float64Array(width * height);
    for (let j = 0; j < height; j++) {
      const py = y[1] - ((j + 0.5) / height) * (y[1] - y[0]);
      for (let i = 0; i < width; i++) {
        values[j * width + i] = surface.value(x[0] + ((i + 0.5) / width) * (x[1] - x[0]), py);
      }
    }
    const sorted = Float64Array.from(values).sort();
    const levels = Array.from(
      { length: LEVELS - 1 },
      (_, k) => sorted[Math.floor(((k + 1) / LEVELS) * sorted.length)]!,
    );
    const band = new Uint8Array(values.length);
    for (let p = 0; p < values.length; p++) {
      let b = 0;
      while (b < levels.length && values[p]! > levels[b]!) b++;
      band[p] = b;
    }
    const image = new ImageData(width, height);
    for (let p = 0; p < band.length; p++) {
      const i = p % width;
      const edge =
        (i + 1 < width && band[p + 1] !== band[p]) ||
        (p + width < band.length && band[p + width] !== band[p]);
      const [r, g, b] = rampColor(band[p]! / (LEVELS - 1));
      const shade = edge ? 0.72 : 1;
      image.data.set([r * shade, g * shade, b * shade, 255], p * 4);
    }
    this.background = image;
    this.surface = surface;
    this.draw([], 0);
  }

  /** Draws the background and the first `upto` points of every path. */
  draw(paths: readonly Path[], upto: number): void {
    const surface = this.surface;
    if (!surface || !this.background) return;
    const ctx = this.canvas.getContext('2d')!;
    ctx.putImageData(this.background, 0, 0);
    const marker = (point: readonly [number, number], color: string, size: number, star = false) => {
      const [cx, cy] = this.toCanvas(surface, point);
      ctx.fillStyle = color;
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      if (star) {
        for (let k = 0; k < 10; k++) {
          const r = k % 2 === 0 ? size : size / 2.4;
          const a = (k * Math.PI) / 5 - Math.PI / 2;
          ctx.lineTo(cx + r * Math.cos(a), cy + r * Math.sin(a));
        }
        ctx.closePath();
      } else ctx.arc(cx, cy, size, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    };
    if (surface.minimum) marker(surface.minimum, '#f1c40f', 9, true);
    marker(surface.start, '#222', 5);
    for (const path of paths) {
      const shown = path.points.slice(0, Math.max(1, upto));
      for (const [color, width] of [
        ['rgba(255,255,255,0.85)', 4.5],
        [path.color, 2.2],
      ] as const) {
        ctx.strokeStyle = color;
        ctx.lineWidth = width;
        ctx.lineJoin = 'round';
        ctx.beginPath();
        shown.forEach((point, k) => {
          const [cx, cy] = this.toCanvas(surface, point);
          if (k === 0) ctx.moveTo(cx, cy);
          else ctx.lineTo(cx, cy);
        });
        ctx.stroke();
      }
      const head = shown[shown.length - 1];
      if (head?.every(Number.isFinite)) marker(head, path.color, 4.5);
    }
  }
}
