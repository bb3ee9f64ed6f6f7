// History for charts: per-minute rollups turned into one line per vantage, the outcome
// mix, and the incidents of a time range as shaded bands.
import { getIncidents, getRollups, type Incident, type RollupRow } from "./api";
import { type Band, chartFigure, type Line, renderChart } from "./charts";
import { h, replace } from "./dom";
import { lineStyle } from "./charts";
import { t } from "./i18n";

export const RANGES: [string, string, number][] = [
  ["1h", t("1 hour"), 3600],
  ["6h", t("6 hours"), 6 * 3600],
  ["24h", t("24 hours"), 86400],
  ["7d", t("7 days"), 7 * 86400],
];

/** The bucket width for a range: per minute up to 6 h, coarser beyond. */
export function stepFor(seconds: number): number {
  if (seconds <= 6 * 3600) return 60;
  if (seconds <= 86400) return 300;
  return 1800;
}

interface Acc {
  count: number;
  ok: number;
  latSum: number;
  latWeight: number;
}

/** Reachability (%) and median latency (ms) lines, one per vantage, in `step` buckets. */
export function toLines(rows: RollupRow[], step: number): { reach: Line[]; latency: Line[] } {
  const byVantage = new Map<string, Map<number, Acc>>();
  for (const r of rows) {
    const bucket = Math.floor(r.minute / step) * step;
    let m = byVantage.get(r.vantage);
    if (!m) byVantage.set(r.vantage, (m = new Map()));
    const acc = m.get(bucket) ?? { count: 0, ok: 0, latSum: 0, latWeight: 0 };
    acc.count += r.count;
    acc.ok += r.okCount;
    if (r.p50 !== null && r.okCount > 0) {
      acc.latSum += r.p50 * r.okCount;
      acc.latWeight += r.okCount;
    }
    m.set(bucket, acc);
  }
  const reach: Line[] = [];
  const latency: Line[] = [];
  for (const vantage of [...byVantage.keys()].sort()) {
    const m = byVantage.get(vantage)!;
    const buckets = [...m.keys()].sort((a, b) => a - b);
    const withGaps = (value: (a: Acc) => number | null): [number, number | null][] => {
      const out: [number, number | null][] = [];
      let prev: number | null = null;
      for (const b of buckets) {
        if (prev !== null && b - prev > step) out.push([prev + step, null]); // a gap: no data
        out.push([b + step / 2, value(m.get(b)!)]);
        prev = b;
      }
      return out;
    };
    reach.push({ label: vantage, points: withGaps((a) => (a.count ? (100 * a.ok) / a.count : null)) });
    latency.push({ label: vantage, points: withGaps((a) => (a.latWeight ? (1000 * a.latSum) / a.latWeight : null)) });
  }
  return { reach, latency };
}

/** Counts by outcome over all rows. */
export function outcomeMix(rows: RollupRow[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const outcomes = Object.keys(r.outcomes).length ? r.outcomes : { ok: r.okCount, failed: r.count - r.okCount };
    for (const [k, v] of Object.entries(outcomes)) if (v) counts.set(k, (counts.get(k) ?? 0) + v);
  }
  return [...counts.entries()].sort((a, b) => (a[0] === "ok" ? -1 : b[0] === "ok" ? 1 : b[1] - a[1]));
}

export function bandsOf(incidents: Incident[]): Band[] {
  return incidents.map((i) => ({ start: i.start, end: i.end, label: i.cause }));
}

/** The outcome mix as a stacked bar plus a table (the numbers, not only the colours). */
export function mixFigure(mix: [string, number][]): HTMLElement {
  const total = mix.reduce((s, [, n]) => s + n, 0);
  const fig = h("figure", { class: "chart mix" }, h("figcaption", null, h("strong", null, "Outcome mix")));
  if (!total) {
    fig.append(h("p", { class: "empty" }, "No measurements in this range."));
    return fig;
  }
  let fail = 0;
  const classOf = (name: string) => (name === "ok" ? "mix-ok" : `mix-fail-${Math.min(fail++, 4)}`);
  const classes = mix.map(([name]) => classOf(name));
  const bar = h("div", { class: "mix-bar", role: "img", "aria-label": mix.map(([k, n]) => `${k} ${n}`).join(", ") });
  mix.forEach(([name, n], i) => {
    const seg = h("span", { class: classes[i], title: `${name}: ${n}` });
    seg.style.width = `${(100 * n) / total}%`;
    bar.append(seg);
  });
  const table = h(
    "table",
    { class: "table small" },
    h("thead", null, h("tr", null, h("th", null, "Outcome"), h("th", { class: "num" }, "Count"), h("th", { class: "num" }, "Share"))),
    h(
      "tbody",
      null,
      mix.map(([name, n], i) =>
        h(
          "tr",
          null,
          h("td", null, h("span", { class: `swatch ${classes[i]}`, "aria-hidden": "true" }), name),
          h("td", { class: "num" }, n),
          h("td", { class: "num" }, `${((100 * n) / total).toFixed(1)}%`),
        ),
      ),
    ),
  );
  fig.append(bar, table);
  return fig;
}

/** Reachability + latency charts and the outcome mix for `targets` over [from, to]. */
export async function historyCharts(
  container: HTMLElement,
  targets: string[],
  from: number,
  to: number,
  incidents?: Incident[],
): Promise<() => void> {
  const step = stepFor(to - from);
  const [rows, found] = await Promise.all([
    getRollups(targets, from, to, step), // the server sums the minutes into `step` buckets
    incidents ? Promise.resolve(incidents) : getIncidents({ since: from, until: to, limit: 200 }),
  ]);
  const relevant = found.filter((i) => i.targets.some((t) => targets.includes(t)) || !i.targets.length);
  const { reach, latency } = toLines(rows, step);
  const bands = bandsOf(relevant);
  const note = bands.length ? t("hatched: incidents") : "";
  const reachFig = chartFigure(t("Reachability (% of checks OK)"), note);
  const latFig = chartFigure(t("Latency (median, ms)"), note);
  const legend = reach.length
    ? h(
        "p",
        { class: "small muted" },
        t("One line per vantage: "),
        reach.map((line, i) => {
          const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
          swatch.style.background = lineStyle(i).color;
          return h("span", null, swatch, line.label, i < reach.length - 1 ? ", " : "");
        }),
      )
    : null;
  replace(container, h("div", { class: "charts" }, reachFig.figure, latFig.figure), legend, mixFigure(outcomeMix(rows)));
  if (!rows.length) {
    reachFig.area.append(h("p", { class: "empty" }, t("No measurements in this range.")));
    latFig.area.append(h("p", { class: "empty" }, t("No measurements in this range.")));
    return () => undefined;
  }
  const stops = [
    renderChart(reachFig.area, { title: t("Reachability"), unit: "%", lines: reach, bands, from, to, yMin: 0, yMax: 100, digits: 0 }),
    renderChart(latFig.area, { title: t("Latency"), unit: "ms", lines: latency, bands, from, to, yMin: 0 }),
  ];
  return () => stops.forEach((stop) => stop());
}
