// Time-series charts (uPlot): one line per vantage, incidents drawn as hatched bands.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatTick, formatTime, h, zoneName } from "./dom";
import { t } from "./i18n";

export interface Line {
  label: string;
  points: [number, number | null][];
}

export interface Band {
  start: number;
  end: number | null;
  label: string;
}

/** A moment marked across the chart (an incident's onset): a dashed vertical line. */
export interface Mark {
  t: number;
  label: string;
}

export interface ChartSpec {
  title: string;
  unit: string;
  lines: Line[];
  bands: Band[];
  marks?: Mark[];
  from: number;
  to: number;
  yMin?: number;
  yMax?: number;
  digits?: number;
}

/** Okabe-Ito colours (distinguishable with colour-vision deficiencies), plus dash patterns. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F"];
const DASHES: number[][] = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** The colour and dash of the i-th line (shared by charts and legends). */
export function lineStyle(i: number): { color: string; dash: number[] } {
  return { color: PALETTE[i % PALETTE.length], dash: DASHES[i % DASHES.length] };
}

function hatch(color: string): CanvasPattern | string {
  const tile = document.createElement("canvas");
  tile.width = 8;
  tile.height = 8;
  const c = tile.getContext("2d");
  if (!c) return color;
  c.strokeStyle = color;
  c.lineWidth = 1.5;
  c.beginPath();
  c.moveTo(0, 8);
  c.lineTo(8, 0);
  c.stroke();
  return c.createPattern(tile, "repeat") ?? color;
}

/** Align the lines on one sorted x axis (uPlot's data layout). */
function align(lines: Line[]): uPlot.AlignedData {
  const xs = new Set<number>();
  for (const line of lines) for (const [x] of line.points) xs.add(x);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = lines.map((line) => {
    const y: (number | null)[] = new Array(x.length).fill(null);
    for (const [px, py] of line.points) y[index.get(px) as number] = py;
    return y;
  });
  return [x, ...ys] as uPlot.AlignedData;
}

function bandsPlugin(bands: Band[]): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        if (!bands.length) return;
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        const fill = cssVar("--band", "rgba(213,94,0,0.12)");
        const stroke = hatch(cssVar("--band-hatch", "rgba(213,94,0,0.35)"));
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, width, height);
        ctx.clip();
        for (const band of bands) {
          const x0 = Math.max(left, u.valToPos(band.start, "x", true));
          const endTs = band.end ?? (u.scales.x.max as number);
          const x1 = Math.min(left + width, u.valToPos(endTs, "x", true));
          if (x1 <= x0) continue;
          ctx.fillStyle = fill;
          ctx.fillRect(x0, top, x1 - x0, height);
          ctx.fillStyle = stroke;
          ctx.fillRect(x0, top, x1 - x0, height);
        }
        ctx.restore();
      },
    },
  };
}

function marksPlugin(marks: Mark[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        if (!marks.length) return;
        const { ctx } = u;
        const { left, top, width, height } = u.bbox;
        ctx.save();
        ctx.strokeStyle = cssVar("--mark", "#D55E00");
        ctx.fillStyle = ctx.strokeStyle;
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.font = `${11 * devicePixelRatio}px sans-serif`;
        for (const mark of marks) {
          const x = u.valToPos(mark.t, "x", true);
          if (x < left || x > left + width) continue;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.fillText(mark.label, x + 4 * devicePixelRatio, top + 12 * devicePixelRatio);
        }
        ctx.restore();
      },
    },
  };
}

/** Render a chart into `container` (a figure with a caption); resizes with it. */
export function renderChart(container: HTMLElement, spec: ChartSpec): () => void {
  const fg = cssVar("--fg", "#222");
  const grid = cssVar("--grid", "rgba(0,0,0,0.1)");
  const fmt = (v: number | null) =>
    v === null || v === undefined ? "—" : `${v.toFixed(spec.digits ?? 1)} ${spec.unit}`;
  const width = Math.max(280, container.clientWidth || 600);
  const height = width < 500 ? 200 : 240;
  const series: uPlot.Series[] = [
    { label: t("Time ({zone})", { zone: zoneName(new Date(spec.to * 1000)) }), value: (_u: uPlot, v: number | null) => formatTime(v) },
    ...spec.lines.map((line, i) => {
      const style = lineStyle(i);
      return {
        label: line.label,
        stroke: style.color,
        dash: style.dash,
        width: 2,
        spanGaps: false,
        points: { show: line.points.length < 40, size: 5 },
        value: (_u: uPlot, v: number | null) => fmt(v),
      };
    }),
  ];
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts: uPlot.Options = {
    width,
    height,
    series,
    scales: {
      x: { time: true, min: spec.from, max: spec.to },
      y: {
        range: (_u, dataMin, dataMax) => {
          const lo = spec.yMin ?? Math.min(0, dataMin ?? 0);
          const hi = spec.yMax ?? Math.max((dataMax ?? 1) * 1.1, lo + 1);
          return [lo, hi];
        },
      },
    },
    axes: [
      {
        ...axis,
        values: (_u, splits) => splits.map((v) => formatTick(v, spec.to - spec.from)),
      },
      { ...axis, size: 60, values: (_u, splits) => splits.map((v) => `${v}${spec.unit === "%" ? "%" : ""}`) },
    ],
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    plugins: [bandsPlugin(spec.bands), marksPlugin(spec.marks ?? [])],
  };
  const plot = new uPlot(opts, align(spec.lines), container);
  const observer = new ResizeObserver(() => {
    const w = Math.max(280, container.clientWidth);
    if (Math.abs(w - plot.width) > 4) plot.setSize({ width: w, height: w < 500 ? 200 : 240 });
  });
  observer.observe(container);
  return () => {
    observer.disconnect();
    plot.destroy();
  };
}

/** A figure with a heading, a note about the bands, and a chart area. */
export function chartFigure(title: string, note: string): { figure: HTMLElement; area: HTMLElement } {
  const area = h("div", { class: "chart-area" });
  const figure = h(
    "figure",
    { class: "chart" },
    h("figcaption", null, h("strong", null, title), note ? h("span", { class: "muted" }, ` — ${note}`) : null),
    area,
  );
  return { figure, area };
}
