// The incident list (open first, then recent) and the card used for one incident.
import { getIncidents, type Incident } from "../api";
import { ago, formatDuration, formatTime, h, link, replace } from "../dom";
import type { Cleanup } from "../nav";
import { type LiveHold, liveGeneration, watchGeneration } from "../live";
import { incidentBadge } from "../state";
import { causeLabel, percent } from "../words";
import { t } from "../i18n";

/** A compact card linking to the incident page. */
export function incidentCard(inc: Incident): HTMLAnchorElement {
  const a = link(
    `/ui/incidents/${encodeURIComponent(inc.id)}`,
    h("div", null, incidentBadge(inc.state)),
    h("div", { class: "cause" }, causeLabel(inc.cause), " ", h("span", { class: "muted" }, `(${percent(inc.confidence)})`)),
    h("div", null, inc.services.join(", ") || inc.targets.join(", ") || "—"),
    h(
      "div",
      { class: "muted small" },
      inc.open
        ? t("since {time} ({ago})", { time: formatTime(inc.start), ago: ago(inc.start) })
        : t("{time}, lasted {duration}", { time: formatTime(inc.start), duration: formatDuration((inc.end ?? inc.start) - inc.start) }),
    ),
  );
  a.className = `incident-card${inc.open ? "" : " resolved"}`;
  a.setAttribute("data-incident", inc.id);
  return a;
}

function table(incidents: Incident[]): HTMLElement {
  return h(
    "div",
    { class: "grid-wrap" },
    h(
      "table",
      { class: "table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          [t("State"), t("Cause"), t("Confidence"), t("Services"), t("Started"), t("Duration")].map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        null,
        incidents.map((inc) =>
          h(
            "tr",
            { "data-incident": inc.id },
            h("td", null, incidentBadge(inc.state)),
            h("td", null, link(`/ui/incidents/${encodeURIComponent(inc.id)}`, causeLabel(inc.cause))),
            h("td", { class: "num" }, percent(inc.confidence)),
            h("td", null, inc.services.join(", ") || inc.targets.join(", ")),
            h("td", null, formatTime(inc.start)),
            h("td", null, inc.open ? t("{duration} (open)", { duration: formatDuration(Date.now() / 1000 - inc.start) }) : formatDuration((inc.end ?? inc.start) - inc.start)),
          ),
        ),
      ),
    ),
  );
}

export async function renderIncidents(main: HTMLElement, _params: string[], _query: URLSearchParams, live: LiveHold): Promise<Cleanup> {
  const content = h("div");
  replace(main, h("h1", null, t("Incidents")), h("p", { class: "muted" }, t("Open incidents first, then the most recent.")), content);
  let offGeneration = (): void => {};
  const load = async (): Promise<void> => {
    const generation = liveGeneration();
    const incidents = await getIncidents({ limit: 200 });
    const open = incidents.filter((i) => i.open);
    const past = incidents.filter((i) => !i.open);
    replace(
      content,
      h("h2", null, t("Open ({n})", { n: open.length })),
      open.length ? h("div", { class: "incident-list" }, open.map(incidentCard)) : h("p", { class: "muted" }, t("None.")),
      h("h2", null, t("Resolved ({n})", { n: past.length })),
      past.length ? table(past) : h("p", { class: "muted" }, t("None in the store.")),
    );
    offGeneration();
    offGeneration = watchGeneration(generation, () => void load());
  };
  await load();
  let timer: number | undefined;
  const off = live.listen((kind) => {
    if (kind !== "incident" || timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      void load();
    }, 500);
  });
  return () => {
    off();
    offGeneration();
    if (timer !== undefined) window.clearTimeout(timer);
  };
}
