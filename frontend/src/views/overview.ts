// The overview: services x vantages, grouped by service list, network, organization or
// country, updated live from the `state` and `incident` events of the stream.
import { getIncidents, getOverview, getServices, getTargets, type Incident, type Pair, readPair, type Service } from "../api";
import { ago, formatTime, h, link, replace } from "../dom";
import { type LiveHold, liveGeneration, watchGeneration } from "../live";
import { type Cleanup, navigate } from "../nav";
import { badge, type State, worst } from "../state";
import { incidentCard } from "./incidents";
import { stateWord as word } from "../words";
import { t } from "../i18n";

type GroupBy = "none" | "network" | "organization" | "country";
const GROUPS: [GroupBy, string][] = [
  ["none", t("All services")],
  ["network", t("Network")],
  ["organization", t("Organization")],
  ["country", t("Country")],
];

interface Model {
  services: Service[];
  vantages: string[];
  targetsOf: Map<string, string[]>;
  maintenance: Set<string>;
  pairs: Map<string, Pair>; // key target \u0000 vantage
  incidents: Map<string, Incident>;
}

const key = (target: string, vantage: string) => `${target}\u0000${vantage}`;

/** One service from one vantage, judged from its targets' newest results there (as the
 * server judges it: all up, all down, or degraded in between). */
function cellState(model: Model, service: Service, vantage: string): { state: State; pair: Pair | null } {
  const pairs: Pair[] = [];
  for (const t of model.targetsOf.get(service.name) ?? []) {
    const p = model.pairs.get(key(t, vantage));
    if (p) pairs.push(p);
  }
  if (!pairs.length) return { state: "unknown", pair: null };
  const failing = pairs.filter((p) => !p.ok);
  let state: State = !failing.length ? "up" : failing.length === pairs.length ? "down" : "degraded";
  if (state !== "up" && model.maintenance.has(service.name)) state = "maintenance";
  const pair = failing[0] ?? pairs.reduce((a, b) => ((b.latencyS ?? 0) > (a.latencyS ?? 0) ? b : a));
  return { state, pair };
}

function serviceState(model: Model, service: Service): State {
  const states = model.vantages.map((v) => cellState(model, service, v).state).filter((s) => s !== "unknown");
  if (!states.length) return "unknown";
  if (service.state === "maintenance") return "maintenance";
  if (states.every((s) => s === "down")) return "down";
  if (states.some((s) => s !== "up")) return "degraded";
  return "up";
}

function cell(model: Model, service: Service, vantage: string): HTMLTableCellElement {
  const { state, pair } = cellState(model, service, vantage);
  const detail = pair
    ? pair.ok
      ? pair.latencyS !== null
        ? `${Math.round(pair.latencyS * 1000)} ms`
        : t("ok")
      : (pair.outcome ?? t("failed"))
    : "";
  const title = pair
    ? t("{service} from {vantage}: {state}", { service: service.name, vantage, state: word(state) }) +
      (pair.outcome ? `, ${pair.outcome}` : "") +
      (pair.since ? `, ${t("since {time}", { time: formatTime(pair.since) })}` : "")
    : t("{service} from {vantage}: {state}", { service: service.name, vantage, state: word("unknown") });
  return h(
    "td",
    { class: `cell`, "data-service": service.name, "data-vantage": vantage, "data-state": state, title },
    badge(state),
    detail ? h("span", { class: "outcome" }, detail) : null,
    pair && !pair.ok && pair.since ? h("span", { class: "outcome" }, t("since {time}", { time: ago(pair.since) })) : null,
  );
}

function row(model: Model, service: Service): HTMLTableRowElement {
  const meta = [service.network, service.organization, service.country].filter(Boolean).join(" · ");
  return h(
    "tr",
    { "data-service": service.name },
    h(
      "th",
      { scope: "row" },
      link(`/ui/services/${encodeURIComponent(service.name)}`, service.name),
      meta ? h("span", { class: "meta" }, meta) : null,
    ),
    model.vantages.map((v) => cell(model, service, v)),
  );
}

/** A grouping's name in the page's language, lower case: "network" ("rrjeti"). */
function groupName(by: GroupBy): string {
  const label = GROUPS.find(([g]) => g === by)?.[1] ?? by;
  return label.charAt(0).toLowerCase() + label.slice(1);
}

function groupKey(service: Service, by: GroupBy): string {
  if (by === "none") return "";
  return service[by] ?? t("no {group}", { group: groupName(by) });
}

function grid(model: Model, services: Service[], caption: string): HTMLElement {
  return h(
    "div",
    { class: "grid-wrap" },
    h(
      "table",
      { class: "grid" },
      h("caption", { class: "sr-only" }, caption),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, t("Service")),
          model.vantages.map((v) => h("th", { scope: "col" }, t("from {vantage}", { vantage: v }))),
        ),
      ),
      h(
        "tbody",
        null,
        services.map((s) => row(model, s)),
      ),
    ),
  );
}

function summary(model: Model): HTMLElement {
  const counts: Record<State, number> = { up: 0, down: 0, degraded: 0, maintenance: 0, stale: 0, unknown: 0 };
  for (const s of model.services) counts[serviceState(model, s)] += 1;
  const stat = (n: number, label: string, state?: State) =>
    h("div", { class: `stat${state ? ` st-${state}` : ""}` }, h("b", null, n), h("span", null, label));
  return h(
    "div",
    { class: "summary", "aria-label": t("Summary") },
    stat(model.services.length, t("services")),
    stat(counts.up, t("✓ up"), "up"),
    stat(counts.down, t("✕ down"), counts.down ? "down" : undefined),
    stat(counts.degraded, t("! degraded"), counts.degraded ? "degraded" : undefined),
    stat(model.incidents.size, t("open incidents"), model.incidents.size ? "down" : undefined),
  );
}

function incidentsBlock(model: Model): HTMLElement {
  const open = [...model.incidents.values()].sort((a, b) => b.start - a.start);
  return h(
    "section",
    { "aria-labelledby": "open-incidents" },
    h("h2", { id: "open-incidents" }, t("Open incidents")),
    open.length
      ? h("div", { class: "incident-list" }, open.map(incidentCard))
      : h("p", { class: "muted" }, t("None: no outage detected right now.")),
  );
}

function body(model: Model, by: GroupBy): HTMLElement[] {
  const out: HTMLElement[] = [summary(model), incidentsBlock(model)];
  if (by === "none") {
    out.push(h("h2", null, t("Services")), grid(model, model.services, t("Services by vantage")));
    return out;
  }
  const groups = new Map<string, Service[]>();
  for (const s of model.services) {
    const k = groupKey(s, by);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  for (const [name, services] of [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const state = services.map((s) => serviceState(model, s)).reduce<State>((a, b) => worst(a, b), "up");
    out.push(
      h("div", { class: "group-head" }, h("h2", null, `${groupName(by)}: ${name}`), badge(state)),
      grid(model, services, t("{group} {name}: services by vantage", { group: groupName(by), name })),
    );
  }
  return out;
}

export async function renderOverview(main: HTMLElement, _params: string[], query: URLSearchParams, live: LiveHold): Promise<Cleanup> {
  const by = (GROUPS.find(([g]) => g === query.get("group"))?.[0] ?? "none") as GroupBy;
  const generation = liveGeneration();
  const [services, overview, targets, incidents] = await Promise.all([
    getServices(),
    getOverview(),
    getTargets(),
    getIncidents({ open: true }),
  ]);
  const model: Model = {
    services,
    vantages: [...overview.vantages],
    targetsOf: new Map(services.map((s) => [s.name, [] as string[]])),
    maintenance: new Set(overview.rows.filter((r) => r.state === "maintenance").map((r) => r.service)),
    pairs: new Map(),
    incidents: new Map(incidents.filter((i) => i.open).map((i) => [i.id, i])),
  };
  for (const t of targets) {
    if (t.service && !t.control) model.targetsOf.get(t.service)?.push(t.name);
    for (const p of t.pairs) {
      model.pairs.set(key(p.target, p.vantage), p);
      if (!model.vantages.includes(p.vantage)) model.vantages.push(p.vantage);
    }
  }
  const select = h(
    "select",
    { id: "group-by", name: "group" },
    GROUPS.map(([value, label]) => h("option", { value, selected: value === by }, label)),
  );
  select.addEventListener("change", () => {
    const value = select.value === "none" ? "/" : `/?group=${encodeURIComponent(select.value)}`;
    navigate(value, true);
  });
  const content = h("div", { id: "overview" });
  replace(
    main,
    h("h1", null, t("Overview")),
    h("p", { class: "muted" }, t("Every service as seen from every vantage point, updated live.")),
    h("div", { class: "toolbar" }, h("label", { for: "group-by" }, t("Group by")), select),
    content,
  );
  const draw = () => replace(content, body(model, by));
  draw();

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
  const off = live.listen((kind, data) => {
    if (!data || typeof data !== "object") return;
    const d = data as Record<string, unknown>;
    if (kind === "state") {
      const p = readPair(d);
      const known = model.pairs.get(key(p.target, p.vantage));
      if (known && known.lastTs && p.lastTs && p.lastTs < known.lastTs) return;
      model.pairs.set(key(p.target, p.vantage), p);
      if (!model.vantages.includes(p.vantage)) model.vantages.push(p.vantage);
      schedule();
    } else {
      const id = String(d.id ?? "");
      const state = String(d.state ?? "");
      if (!id) return;
      if (state === "resolved") model.incidents.delete(id);
      else {
        const old = model.incidents.get(id);
        model.incidents.set(id, {
          ...(old ?? {
            id,
            confirmedAt: null,
            networks: [],
            organizations: [],
            vantages: [],
            vantage: null,
            maintenance: null,
            evidence: [],
            causeHistory: [],
            probabilities: {},
            timeline: [],
            acknowledged: false,
            notes: [],
            end: null,
          }),
          id,
          state,
          open: true,
          provisional: d.provisional === true,
          start: Number(d.start ?? old?.start ?? 0),
          cause: String(d.cause ?? old?.cause ?? "unknown"),
          confidence: Number(d.confidence ?? old?.confidence ?? 0),
          services: Array.isArray(d.services) ? d.services.map(String) : (old?.services ?? []),
          targets: Array.isArray(d.targets) ? d.targets.map(String) : (old?.targets ?? []),
        });
      }
      schedule();
    }
  });
  const offGeneration = watchGeneration(generation, () => navigate(location.pathname + location.search, true));
  // Relative times ("since 3 min ago") age; redraw now and then.
  const timer = window.setInterval(schedule, 30_000);
  return () => {
    off();
    offGeneration();
    window.clearInterval(timer);
  };
}
