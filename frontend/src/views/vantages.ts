// The vantage points: where each probes from, when it was last heard from, its health.
import { getVantages, type Vantage } from "../api";
import { ago, formatTime, h, replace } from "../dom";
import { onLive } from "../live";
import type { Cleanup } from "../nav";
import { badge } from "../state";

function row(v: Vantage): HTMLTableRowElement {
  const share = v.targets ? `${v.ok ?? 0} / ${v.targets}` : "—";
  return h(
    "tr",
    { "data-vantage": v.name, "data-health": v.health },
    h("th", { scope: "row" }, v.name, " ", v.local ? h("span", { class: "tag" }, "this server") : null, v.local ? null : null),
    h("td", null, badge(v.state, undefined, v.health)),
    h("td", null, v.country ?? "—", h("span", { class: "muted" }, v.inCountry ? " · in country" : " · abroad")),
    h("td", null, v.lastSeen ? `${ago(v.lastSeen)}` : "never", v.lastSeen ? h("span", { class: "muted small" }, ` (${formatTime(v.lastSeen)})`) : null),
    h("td", { class: "num" }, share),
  );
}

export async function renderVantages(main: HTMLElement): Promise<Cleanup> {
  const content = h("div");
  replace(
    main,
    h("h1", null, "Vantages"),
    h(
      "p",
      { class: "muted" },
      "Where the measurements come from. A vantage whose control targets fail is impaired: its own network is in trouble, and its results are set aside.",
    ),
    content,
  );
  const load = async () => {
    const vantages = await getVantages();
    replace(
      content,
      h(
        "div",
        { class: "grid-wrap" },
        h(
          "table",
          { class: "table", id: "vantages" },
          h(
            "thead",
            null,
            h("tr", null, ["Vantage", "Health", "Country", "Last seen", "Targets OK"].map((c) => h("th", { scope: "col" }, c))),
          ),
          h("tbody", null, vantages.map(row)),
        ),
      ),
    );
  };
  await load();
  let timer: number | undefined;
  const off = onLive(() => {
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      void load();
    }, 2000);
  });
  const tick = window.setInterval(() => void load(), 15_000);
  return () => {
    off();
    window.clearInterval(tick);
    if (timer !== undefined) window.clearTimeout(timer);
  };
}
