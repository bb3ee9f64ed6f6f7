// One network: its BGP visibility and the share of its address blocks answering over a
// chosen range (its incidents hatched), its prefixes and its control-plane events.
import { getIncidents, getServices } from "../api";
import { h, link, replace } from "../dom";
import { t } from "../i18n";
import { type Cleanup } from "../nav";
import { eventsTable, hasSignals, networkChart } from "../network";
import { percent } from "../words";
import { incidentCard } from "./incidents";
import { chosenRange, rangeBar } from "./rangebar";

function lastKnown(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

export async function renderNetwork(main: HTMLElement, params: string[], query: URLSearchParams): Promise<Cleanup> {
  const name = params[0];
  const [range, seconds] = chosenRange(query, "6h");
  const to = Date.now() / 1000;
  const from = to - seconds;
  const [found, services] = await Promise.all([getIncidents({ since: from, until: to, limit: 200 }), getServices()]);
  const hosted = services.filter((s) => s.network === name).map((s) => s.name);
  // The listing names services, not networks: an incident of a service the network hosts is the network's.
  const incidents = found.filter((i) => i.networks.includes(name) || i.services.some((s) => hosted.includes(s)));
  const chart = h("div", { class: "history", id: "network-chart" }, h("p", { class: "loading" }, t("Loading history…")));
  const below = h("div");
  replace(
    main,
    h("p", { class: "crumbs" }, link("/", t("Overview")), ` › ${t("network")}`),
    h("div", { class: "group-head" }, h("h1", null, name)),
    h("p", { class: "muted" }, t("What the route collectors see of this network, and whether its address blocks answer.")),
    rangeBar(range),
    chart,
    below,
  );
  const { stop, series } = await networkChart(chart, name, from, to, incidents);
  if (series === null || !hasSignals(series)) {
    replace(chart, h("p", { class: "empty" }, t("No BGP or block signals of this network in this range.")));
  }
  const prefixes = series?.prefixes ?? [];
  replace(
    below,
    prefixes.length ? h("h2", null, t("Prefixes")) : null,
    prefixes.length
      ? h(
          "table",
          { class: "table small", id: "network-prefixes" },
          h("thead", null, h("tr", null, [t("Prefix"), t("Peers routing it"), t("BGP visibility")].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            null,
            prefixes.map((p) => {
              const vis = lastKnown(p.visibility);
              const peers = lastKnown(p.peers);
              return h("tr", null, h("td", null, p.prefix), h("td", { class: "num" }, peers ?? "—"), h("td", { class: "num" }, vis === null ? "—" : percent(vis)));
            }),
          ),
        )
      : null,
    h("h2", null, t("Control-plane events")),
    series ? eventsTable(series) : h("p", { class: "muted" }, "—"),
    h("h2", null, t("Incidents in this range")),
    incidents.length ? h("div", { class: "incident-list" }, incidents.map(incidentCard)) : h("p", { class: "muted" }, t("None.")),
  );
  return stop;
}
