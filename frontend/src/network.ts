// The network plane: a network's BGP visibility and blocks up over time
// (GET /api/v1/networks/{name}/series), drawn as one chart beside the service charts.
import { getJSON, type Incident } from "./api";
import { chartFigure, type Line, type Mark, renderChart } from "./charts";
import { formatTime, h, replace } from "./dom";
import { bandsOf } from "./history";
import { t } from "./i18n";

export interface NetworkPoint {
  t: number;
  visibility: number | null;
  peersSeeing: number | null;
  peersTotal: number | null;
  blocksUp: number | null;
  withdrawals: number;
  announcements: number;
  blackholes: number;
}

export interface NetworkEvent {
  kind: string;
  t: number;
  prefix: string;
  peers: number;
  peersTotal: number;
  detail: string;
}

export interface NetworkSeries {
  network: string;
  since: number;
  until: number;
  step: number;
  stored: boolean;
  points: NetworkPoint[];
  prefixes: { prefix: string; peers: (number | null)[]; visibility: (number | null)[] }[];
  events: NetworkEvent[];
}

type Json = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const nums = (v: unknown): (number | null)[] => (Array.isArray(v) ? v.map(num) : []);

/** One network's series over [since, until) in about `buckets` buckets. */
export async function getNetworkSeries(name: string, since: number, until: number, buckets = 240): Promise<NetworkSeries> {
  const step = Math.max(1, Math.ceil((until - since) / buckets));
  const d = await getJSON<Json>(`/networks/${encodeURIComponent(name)}/series`, {
    since: Math.floor(since),
    until: Math.ceil(until),
    step,
  });
  return {
    network: String(d.network ?? name),
    since: num(d.since) ?? since,
    until: num(d.until) ?? until,
    step: num(d.step) ?? step,
    stored: d.stored === true,
    points: arr(d.points).map((p) => ({
      t: num(p.t) ?? 0,
      visibility: num(p.visibility),
      peersSeeing: num(p.peers_seeing),
      peersTotal: num(p.peers_total),
      blocksUp: num(p.blocks_up),
      withdrawals: num(p.withdrawals) ?? 0,
      announcements: num(p.announcements) ?? 0,
      blackholes: num(p.blackholes) ?? 0,
    })),
    prefixes: arr(d.prefixes).map((p) => ({ prefix: String(p.prefix ?? ""), peers: nums(p.peers), visibility: nums(p.visibility) })),
    events: arr(d.events).map((e) => ({
      kind: String(e.kind ?? ""),
      t: num(e.t) ?? 0,
      prefix: String(e.prefix ?? ""),
      peers: num(e.peers) ?? 0,
      peersTotal: num(e.peers_total) ?? 0,
      detail: String(e.detail ?? ""),
    })),
  };
}

/** Whether the series holds anything: a visibility, a block round or an event. */
export function hasSignals(s: NetworkSeries): boolean {
  return s.events.length > 0 || s.points.some((p) => p.visibility !== null || p.blocksUp !== null);
}

/** Visibility and blocks up (%) as chart lines, at each bucket's middle. */
export function planeLines(s: NetworkSeries): Line[] {
  const at = (p: NetworkPoint) => p.t + s.step / 2;
  const pct = (v: number | null) => (v === null ? null : 100 * v);
  const lines: Line[] = [];
  if (s.points.some((p) => p.visibility !== null)) {
    lines.push({ label: t("BGP visibility"), points: s.points.map((p) => [at(p), pct(p.visibility)]) });
  }
  if (s.points.some((p) => p.blocksUp !== null)) {
    lines.push({ label: t("Blocks up"), points: s.points.map((p) => [at(p), pct(p.blocksUp)]) });
  }
  return lines;
}

/** The control-plane events (feed states left out), newest first, as a small table. */
export function eventsTable(s: NetworkSeries, limit = 20): HTMLElement {
  const shown = s.events.filter((e) => !e.kind.startsWith("feed")).slice(-limit).reverse();
  if (!shown.length) return h("p", { class: "muted small" }, t("No control-plane events in this range."));
  return h(
    "table",
    { class: "table small", id: "network-events" },
    h("thead", null, h("tr", null, [t("Time"), t("Event"), t("Prefix"), t("Peers"), t("Detail")].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      shown.map((e) =>
        h(
          "tr",
          { "data-kind": e.kind },
          h("td", null, formatTime(e.t)),
          h("td", null, h("span", { class: "tag" }, e.kind)),
          h("td", null, e.prefix || "—"),
          h("td", { class: "num" }, e.peersTotal ? t("{n} of {total}", { n: e.peers, total: e.peersTotal }) : String(e.peers)),
          h("td", null, e.detail),
        ),
      ),
    ),
  );
}

/** The network chart of `name` over [from, to] into `container`: visibility and blocks up,
 * `incidents` hatched, `onset` marked. Nothing is drawn (and false returned) when the
 * network has no signal in the range. */
export async function networkChart(
  container: HTMLElement,
  name: string,
  from: number,
  to: number,
  incidents: Incident[],
  onset?: number,
): Promise<{ stop: () => void; series: NetworkSeries | null }> {
  let series: NetworkSeries;
  try {
    series = await getNetworkSeries(name, from, to);
  } catch {
    replace(container);
    return { stop: () => undefined, series: null };
  }
  if (!hasSignals(series)) {
    replace(container);
    return { stop: () => undefined, series };
  }
  const fig = chartFigure(t("Network {name}: BGP visibility and blocks up (%)", { name }), incidents.length ? t("hatched: incidents") : "");
  fig.figure.setAttribute("data-network", name);
  replace(container, fig.figure);
  const marks: Mark[] = onset === undefined ? [] : [{ t: onset, label: t("onset") }];
  const stop = renderChart(fig.area, {
    title: name,
    unit: "%",
    lines: planeLines(series),
    bands: bandsOf(incidents),
    marks,
    from,
    to,
    yMin: 0,
    yMax: 100,
    digits: 0,
  });
  return { stop, series };
}
