// One incident: what, where, since when, the cause with its confidence and evidence, how
// the cause changed, its event timeline, and the charts of the affected targets around it.
import { getIncident, type Incident } from "../api";
import { formatDuration, formatTime, h, link, replace } from "../dom";
import { historyCharts } from "../history";
import { networkChart } from "../network";
import { type LiveHold, liveGeneration, watchGeneration } from "../live";
import { type Cleanup, navigate } from "../nav";
import { incidentBadge } from "../state";
import { causeLabel, eventLabel, percent } from "../words";
import { t } from "../i18n";

function meter(value: number): HTMLElement {
  const fill = h("span");
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, value)) * 100)}%`;
  return h(
    "span",
    { class: "confidence" },
    h("span", { class: "meter", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": Math.round(value * 100), "aria-label": t("confidence") }, fill),
    h("b", null, percent(value)),
  );
}

function names(items: string[], href?: (n: string) => string): (Node | string)[] {
  if (!items.length) return ["—"];
  return items.flatMap((n, i) => [href ? link(href(n), n) : n, i < items.length - 1 ? ", " : ""]);
}

function facts(inc: Incident): HTMLElement {
  const duration = (inc.end ?? Date.now() / 1000) - inc.start;
  const dl = h("dl", { class: "kv" });
  const add = (k: string, ...v: (Node | string)[]) => dl.append(h("dt", null, k), h("dd", null, ...v));
  add(t("State"), incidentBadge(inc.state));
  add(
    t("Cause"),
    h("strong", { id: "incident-cause" }, causeLabel(inc.cause)),
    h("span", { class: "muted" }, ` (${inc.cause})`),
    inc.provisional ? h("span", { class: "tag", id: "provisional" }, t("provisional: judged once confirmed")) : "",
  );
  add(t("Confidence"), meter(inc.confidence));
  if (inc.acknowledged) {
    const ack = inc.notes.find((n) => n.kind === "ack");
    const by = ack ? t("by {author}, {time}", { author: ack.author || t("an admin"), time: formatTime(ack.ts) }) : t("yes");
    add(t("Acknowledged"), h("span", { id: "acknowledged" }, by));
  }
  add(t("Started"), formatTime(inc.start));
  if (inc.confirmedAt) add(t("Confirmed"), formatTime(inc.confirmedAt));
  const ended = inc.end ? ` ${t("(ended {time})", { time: formatTime(inc.end) })}` : "";
  add(inc.open ? t("Open for") : t("Lasted"), formatDuration(duration), ended);
  add(t("Services"), ...names(inc.services, (n) => `/ui/services/${encodeURIComponent(n)}`));
  add(t("Targets"), ...names(inc.targets));
  if (inc.networks.length) add(t("Networks"), ...names(inc.networks, (n) => `/ui/networks/${encodeURIComponent(n)}`));
  if (inc.organizations.length) add(t("Organizations"), ...names(inc.organizations));
  add(t("Seen from"), ...names(inc.vantage ? [inc.vantage] : inc.vantages));
  if (inc.maintenance) add(t("Maintenance"), inc.maintenance);
  return dl;
}

// Acknowledgements and notes admins left on the incident, oldest first.
function notes(inc: Incident): HTMLElement {
  if (!inc.notes.length) return h("p", { class: "muted" }, t("No acknowledgement or note yet."));
  return h(
    "ul",
    { class: "timeline", id: "notes" },
    inc.notes.map((n) =>
      h(
        "li",
        { "data-kind": n.kind },
        h("time", null, formatTime(n.ts)),
        " ",
        h("strong", null, n.kind === "ack" ? t("acknowledged") : t("note")),
        n.author ? ` ${t("by {author}", { author: n.author })}` : "",
        n.text ? `: ${n.text}` : "",
      ),
    ),
  );
}

function evidenceTable(inc: Incident): HTMLElement {
  if (!inc.evidence.length) return h("p", { class: "muted" }, t("No evidence recorded yet."));
  return h(
    "div",
    { class: "grid-wrap" },
    h(
      "table",
      { class: "table evidence", id: "evidence" },
      h("thead", null, h("tr", null, [t("Topic"), t("Statement"), t("For cause"), t("Weight")].map((c) => h("th", { scope: "col" }, c)))),
      h(
        "tbody",
        null,
        inc.evidence.map((e) =>
          h(
            "tr",
            null,
            h("td", null, h("span", { class: "tag" }, e.topic)),
            h("td", null, e.statement),
            h("td", null, causeLabel(e.cause)),
            h(
              "td",
              { class: `weight num ${e.weight >= 0 ? "for" : "against"}` },
              `${e.weight >= 0 ? "▲ +" : "▼ −"}${Math.abs(e.weight).toFixed(2)}`,
            ),
          ),
        ),
      ),
    ),
  );
}

function probabilities(inc: Incident): HTMLElement | null {
  const entries = Object.entries(inc.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 5);
  if (!entries.length) return null;
  return h(
    "table",
    { class: "table small" },
    h("thead", null, h("tr", null, h("th", null, t("Cause")), h("th", null, t("Probability")))),
    h("tbody", null, entries.map(([c, p]) => h("tr", null, h("td", null, causeLabel(c)), h("td", null, meter(p))))),
  );
}

function timeline(inc: Incident): HTMLElement {
  const entries = inc.timeline.length
    ? inc.timeline
    : [
        { kind: "opened", ts: inc.start, state: "suspected", cause: null, confidence: null },
        ...(inc.confirmedAt ? [{ kind: "confirmed", ts: inc.confirmedAt, state: "confirmed", cause: null, confidence: null }] : []),
        ...(inc.end ? [{ kind: "resolved", ts: inc.end, state: "resolved", cause: null, confidence: null }] : []),
      ];
  return h(
    "ol",
    { class: "timeline", id: "timeline" },
    entries.map((e) =>
      h(
        "li",
        { class: e.kind },
        h("time", null, formatTime(e.ts)),
        h("strong", null, eventLabel(e.kind)),
        e.cause ? h("span", { class: "muted" }, ` — ${causeLabel(e.cause)}${e.confidence !== null ? ` (${percent(e.confidence)})` : ""}`) : null,
      ),
    ),
  );
}

function causeHistory(inc: Incident): HTMLElement {
  if (!inc.causeHistory.length) return h("p", { class: "muted" }, t("The cause has not changed."));
  return h(
    "ol",
    { class: "timeline" },
    inc.causeHistory.map((c) =>
      h("li", null, h("time", null, formatTime(c.ts)), h("strong", null, causeLabel(c.cause)), h("span", { class: "muted" }, ` (${percent(c.confidence)})`)),
    ),
  );
}

export async function renderIncident(main: HTMLElement, params: string[], query: URLSearchParams, live: LiveHold): Promise<Cleanup> {
  const id = params[0];
  const generation = liveGeneration();
  const inc = await getIncident(id);
  const pad = Math.max(600, ((inc.end ?? Date.now() / 1000) - inc.start) * 0.5);
  const from = inc.start - pad;
  const to = Math.min(Date.now() / 1000, (inc.end ?? Date.now() / 1000) + pad);
  const charts = h("div", { class: "history" }, h("p", { class: "loading" }, t("Loading history…")));
  const window_ = query.get("range");
  replace(
    main,
    h("p", { class: "crumbs" }, link("/", t("Overview")), " › ", link("/ui/incidents", t("Incidents")), " › ", id),
    h("div", { class: "group-head" }, h("h1", null, causeLabel(inc.cause)), incidentBadge(inc.state)),
    h("p", { class: "muted" }, t("Incident {id}", { id: inc.id })),
    h("div", { class: "panel" }, facts(inc)),
    h("h2", null, t("Evidence")),
    h("p", { class: "small muted" }, t("Each statement is checkable against the measurements; ▲ supports the cause it was weighed for, ▼ speaks against it.")),
    evidenceTable(inc),
    probabilities(inc) ? h("h3", null, t("Other causes considered")) : null,
    probabilities(inc),
    h("h2", null, t("Timeline")),
    timeline(inc),
    h("h2", null, t("Cause history")),
    causeHistory(inc),
    h("h2", null, t("Acknowledgements and notes")),
    notes(inc),
    h("h2", null, t("Around the incident")),
    h("p", { class: "small muted" }, window_ ? "" : t("From {from} to {to}.", { from: formatTime(from), to: formatTime(to) })),
    charts,
  );
  const planes = inc.networks.map((n) => h("div", { class: "network-plane", "data-network": n }));
  charts.after(...planes);
  const [stop, ...stopPlanes] = await Promise.all([
    historyCharts(charts, inc.targets, from, to, [inc]),
    ...inc.networks.map((n, i) => networkChart(planes[i], n, from, to, [inc], inc.start).then((r) => r.stop)),
  ]);
  let timer: number | undefined;
  const off = live.listen((kind, data) => {
    if (kind !== "incident" || !data || (data as Record<string, unknown>).id !== id || timer !== undefined) return;
    timer = window.setTimeout(() => navigate(location.pathname + location.search, true), 1000);
  });
  const offGeneration = watchGeneration(generation, () => navigate(location.pathname + location.search, true));
  return () => {
    off();
    offGeneration();
    stop();
    stopPlanes.forEach((s) => s());
    if (timer !== undefined) window.clearTimeout(timer);
  };
}
