/** The live loss curve: every step's training loss, a running mean, and the steps where a run was restored. */

export interface LossHistory {
  losses: readonly number[];
  lossOffset: number;
  restoredAt: readonly number[];
}

const PAD = { left: 52, right: 14, top: 14, bottom: 32 };

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].find((m) => m * power >= raw) ?? 10;
  return unit * power;
}

export function drawLossChart(canvas: HTMLCanvasElement, history: LossHistory): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const { losses, lossOffset, restoredAt } = history;
  const finite = losses.filter(Number.isFinite);
  const lastStep = lossOffset + losses.length;
  const xMin = 0;
  const xMax = Math.max(10, lastStep);
  const yMax = finite.length > 0 ? Math.max(...finite) * 1.05 : 2.5;
  const x = (step: number) => PAD.left + ((step - xMin) / (xMax - xMin)) * (width - PAD.left - PAD.right);
  const y = (loss: number) => height - PAD.bottom - (loss / yMax) * (height - PAD.top - PAD.bottom);

  ctx.strokeStyle = '#ddd';
  ctx.fillStyle = '#555';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  const yStep = niceStep(yMax, 5);
  ctx.textAlign = 'right';
  for (let v = 0; v <= yMax; v += yStep) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, y(v));
    ctx.lineTo(width - PAD.right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(yStep < 0.1 ? 2 : 1), PAD.left - 6, y(v) + 4);
  }
  const xStep = niceStep(xMax - xMin, 8);
  ctx.textAlign = 'center';
  for (let s = 0; s <= xMax; s += xStep) ctx.fillText(String(s), x(s), height - PAD.bottom + 16);
  ctx.fillText('step', width / 2, height - 4);
  ctx.save();
  ctx.translate(12, height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('training loss', 0, 0);
  ctx.restore();

  for (const step of restoredAt) {
    ctx.strokeStyle = '#c0392b';
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x(step), PAD.top);
    ctx.lineTo(x(step), height - PAD.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#c0392b';
    ctx.textAlign = 'left';
    ctx.fillText('restored', x(step) + 4, PAD.top + 10);
  }

  const line = (values: readonly number[], color: string, width: number) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      const px = x(lossOffset + i + 1);
      const py = y(v);
      if (pen) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      pen = true;
    });
    ctx.stroke();
  };
  line(losses, '#9db7d5', 1);
  const mean: number[] = [];
  let acc = Number.NaN;
  for (const v of losses) {
    acc = Number.isNaN(acc) ? v : 0.9 * acc + 0.1 * v;
    mean.push(acc);
  }
  line(mean, '#1f4e8c', 2);

  ctx.textAlign = 'right';
  ctx.font = '11px system-ui, sans-serif';
  const legend: [string, string, number][] = [
    ['each step', '#9db7d5', 1],
    ['running mean (0.9 EMA)', '#1f4e8c', 2],
  ];
  legend.forEach(([text, color, lineWidth], i) => {
    const ly = PAD.top + 10 + 16 * i;
    ctx.fillStyle = '#333';
    ctx.fillText(text, width - PAD.right - 34, ly + 4);
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.beginPath();
    ctx.moveTo(width - PAD.right - 28, ly);
    ctx.lineTo(width - PAD.right - 4, ly);
    ctx.stroke();
  });
}
