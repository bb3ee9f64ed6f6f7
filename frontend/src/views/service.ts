// One service: where it is up or down now, its reachability and latency per vantage over
// a chosen range (incidents hatched), its outcome mix and its incidents.
import { getIncidents, getService, type Pair, readPair, type Service } from "../api";
import { ago, formatTime, h, link, ms, replace } from "../dom";
import { historyCharts } from "../history";
import { type LiveHold, liveGeneration, watchGeneration } from "../live";
import { type Cleanup, navigate } from "../nav";
import { badge, type State } from "../state";
import { incidentCard } from "./incidents";
import { chosenRange, rangeBar } from "./rangebar";
import { t } from "../i18n";

function pairsTable(service: Service, pairs: Map<string, Pair>): HTMLElement {
  const rows = service.targets.flatMap((t) =>
    [...pairs.values()]
      .filter((p) => p.target === t.name)
      .sort((a, b) => a.vantage.localeCompare(b.vantage))
      .map((p) =>
        h(
          "tr",
          { "data-target": p.target, "data-vantage": p.vantage, "data-state": p.state },
          h("td", null, p.target),
          h("td", null, p.vantage),
          h("td", null, badge(p.state as State)),
          h("td", null, p.outcome ?? "—", p.phase ? h("span", { class: "muted" }, ` (${p.phase})`) : null),
          h("td", { class: "num" }, ms(p.latencyS)),
          h("td", null, p.since ? `${formatTime(p.since)} (${ago(p.since)})` : "—"),
          h("td", { class: "num", "data-cert": "" }, p.certDaysLeft === null ? "—" : `${Math.floor(p.certDaysLeft)} days left`),
        ),
      ),
  );
  return h(
    "div",
    { class: "grid-wrap" },
    h(
      "table",
      { class: "table", id: "current-state" },
      h(
        "thead",
        null,
        h("tr", null, [t("Target"), t("Vantage"), t("State"), t("Outcome"), t("Latency"), t("Since"), t("Certificate")].map((c) => h("th", { scope: "col" }, c))),
      ),
      h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: "7", class: "muted" }, t("No results yet.")))),
    ),
  );
}

export async function renderService(main: HTMLElement, params: string[], query: URLSearchParams, live: LiveHold): Promise<Cleanup> {
  const name = params[0];
  const [range, seconds] = chosenRange(query);
  const generation = liveGeneration();
  const service = await getService(name);
  const pairs = new Map<string, Pair>();
  for (const t of service.targets) for (const p of t.pairs) pairs.set(`${p.target}\u0000${p.vantage}`, p);
  const targets = service.targets.map((t) => t.name);
  const to = Date.now() / 1000;
  const from = to - seconds;
  const incidents = (await getIncidents({ since: from, until: to, limit: 200 })).filter(
    (i) => i.services.includes(name) || i.targets.some((t) => targets.includes(t)),
  );
  const meta = [
    service.organization && t("organization {name}", { name: service.organization }),
    service.network && t("network {name}", { name: service.network }),
    service.country && t("country {name}", { name: service.country }),
  ].filter(Boolean);
  const stateHolder = h("div");
  const charts = h("div", { class: "history" }, h("p", { class: "loading" }, t("Loading history…")));
  replace(
    main,
    h("p", { class: "crumbs" }, link("/", t("Overview")), ` › ${t("service")}`),
    h("div", { class: "group-head" }, h("h1", null, service.name), badge(service.state)),
    service.description ? h("p", null, service.description) : null,
    meta.length ? h("p", { class: "muted" }, meta.join(" · ")) : null,
    service.network
      ? h("p", null, link(`/ui/networks/${encodeURIComponent(service.network)}`, t("The network plane of {name}", { name: service.network })))
      : null,
    h("h2", null, t("Now")),
    stateHolder,
    h("h2", null, t("History")),
    rangeBar(range),
    charts,
    h("h2", null, t("Incidents in this range")),
    incidents.length ? h("div", { class: "incident-list" }, incidents.map(incidentCard)) : h("p", { class: "muted" }, t("None.")),
  );
  replace(stateHolder, pairsTable(service, pairs));
  const stopCharts = await historyCharts(charts, targets, from, to, incidents);
  const off = live.listen((kind, data) => {
    if (kind !== "state" || !data || typeof data !== "object") return;
    const p = readPair(data as Record<string, unknown>);
    if (!targets.includes(p.target)) return;
    pairs.set(`${p.target}\u0000${p.vantage}`, p);
    replace(stateHolder, pairsTable(service, pairs));
  });
  const offGeneration = watchGeneration(generation, () => navigate(location.pathname + location.search, true));
  return () => {
    off();
    offGeneration();
    stopCharts();
  };
}
