/**
 * A 2-D surface as filled contour bands (levels at quantiles of f over the plotted domain, so that
 * valleys get as many contours as slopes), with x and y axes, a colour bar of f labelled at the
 * band edges, and the optimizers' paths drawn over it.
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

/** Room around the plotted square: axes at the left and bottom, the colour bar at the right. */
const MARGIN = { left: 48, right: 92, top: 26, bottom: 42 };

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
}

function formatLevel(value: number): string {
  if (value === 0) return '0';
  return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-2
    ? value.toExponential(1)
    : String(Number(value.toPrecision(3)));
}

export class SurfacePlot {
  private frame: HTMLCanvasElement | null = null;
  private surface: Surface | null = null;

  constructor(private readonly canvas: HTMLCanvasElement) {}

  private get area() {
    return {
      x: MARGIN.left,
      y: MARGIN.top,
      width: this.canvas.width - MARGIN.left - MARGIN.right,
      height: this.canvas.height - MARGIN.top - MARGIN.bottom,
    };
  }

  private toCanvas(surface: Surface, [px, py]: readonly [number, number]): [number, number] {
    const area = this.area;
    const { x, y } = surface.domain;
    return [
      area.x + ((px - x[0]) / (x[1] - x[0])) * area.width,
      area.y + area.height - ((py - y[0]) / (y[1] - y[0])) * area.height,
    ];
  }

  /** Draws the contour bands, the axes and the colour bar once, for {@link draw} to copy. */
  setSurface(surface: Surface): void {
    const { width, height } = this.area;
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
    const frame = document.createElement('canvas');
    frame.width = this.canvas.width;
    frame.height = this.canvas.height;
    const ctx = frame.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, frame.width, frame.height);
    ctx.putImageData(image, MARGIN.left, MARGIN.top);
    this.drawAxes(ctx, surface);
    this.drawColourBar(ctx, sorted[0]!, levels, sorted[sorted.length - 1]!);
    this.frame = frame;
    this.surface = surface;
    this.draw([], 0);
  }

  private drawAxes(ctx: CanvasRenderingContext2D, surface: Surface): void {
    const area = this.area;
    ctx.strokeStyle = '#444';
    ctx.fillStyle = '#333';
    ctx.lineWidth = 1;
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeRect(area.x - 0.5, area.y - 0.5, area.width + 1, area.height + 1);
    const ticks = (axis: 'x' | 'y') => {
      const [low, high] = surface.domain[axis];
      const step = niceStep(high - low, 5);
      const out: number[] = [];
      for (let v = Math.ceil(low / step) * step; v <= high + 1e-9; v += step)
        out.push(Number(v.toPrecision(6)));
      return out;
    };
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of ticks('x')) {
      const [cx] = this.toCanvas(surface, [v, surface.domain.y[0]]);
      ctx.beginPath();
      ctx.moveTo(cx, area.y + area.height);
      ctx.lineTo(cx, area.y + area.height + 5);
      ctx.stroke();
      ctx.fillText(String(v), cx, area.y + area.height + 7);
    }
    ctx.fillText('x', area.x + area.width / 2, area.y + area.height + 24);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of ticks('y')) {
      const [, cy] = this.toCanvas(surface, [surface.domain.x[0], v]);
      ctx.beginPath();
      ctx.moveTo(area.x, cy);
      ctx.lineTo(area.x - 5, cy);
      ctx.stroke();
      ctx.fillText(String(v), area.x - 7, cy);
    }
    ctx.save();
    ctx.translate(12, area.y + area.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('y', 0, 0);
    ctx.restore();
  }

  /** A bar of the contour bands, low f at the bottom, labelled with the level values. */
  private drawColourBar(
    ctx: CanvasRenderingContext2D,
    low: number,
    levels: readonly number[],
    high: number,
  ): void {
    const area = this.area;
    const x = area.x + area.width + 18;
    const barWidth = 14;
    const bandHeight = area.height / LEVELS;
    for (let b = 0; b < LEVELS; b++) {
      const [r, g, bl] = rampColor(b / (LEVELS - 1));
      ctx.fillStyle = `rgb(${r}, ${g}, ${bl})`;
      ctx.fillRect(x, area.y + area.height - (b + 1) * bandHeight, barWidth, bandHeight + 0.5);
    }
    ctx.strokeStyle = '#444';
    ctx.strokeRect(x - 0.5, area.y - 0.5, barWidth + 1, area.height + 1);
    ctx.fillStyle = '#333';
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    const bounds = [low, ...levels, high];
    for (let k = 0; k < bounds.length; k += 3) {
      const cy = area.y + area.height - k * bandHeight;
      ctx.fillText(formatLevel(bounds[k]!), x + barWidth + 4, cy);
    }
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText('f(x, y)', x + barWidth / 2 + 10, area.y - 6);
  }

  /** Draws the frame and the first `upto` points of every path. */
  draw(paths: readonly Path[], upto: number): void {
    const surface = this.surface;
    if (!surface || !this.frame) return;
    const ctx = this.canvas.getContext('2d')!;
    ctx.drawImage(this.frame, 0, 0);
    const area = this.area;
    ctx.save();
    ctx.beginPath();
    ctx.rect(area.x, area.y, area.width, area.height);
    ctx.clip();
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
    ctx.restore();
  }
}
