// The vantage points: where each probes from, when it was last heard from, its health.
import { getVantages, type Vantage } from "../api";
import { ago, formatTime, h, replace } from "../dom";
import type { LiveHold } from "../live";
import type { Cleanup } from "../nav";
import { badge } from "../state";
import { t } from "../i18n";
import { stateWord as word } from "../words";

// An agent's clock offset in words: how far it runs behind (or ahead of) the server's.
function clock(v: Vantage): string {
  if (v.clockOffset === null) return v.local ? t("this server's") : "—";
  const s = Math.abs(v.clockOffset);
  const size = s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(1)} s`;
  return v.clockOffset < 0 ? t("{size} ahead", { size }) : t("{size} behind", { size });
}

function row(v: Vantage): HTMLTableRowElement {
  const share = v.targets ? `${v.ok ?? 0} / ${v.targets}` : "—";
  return h(
    "tr",
    { "data-vantage": v.name, "data-health": v.health },
    h("th", { scope: "row" }, v.name, " ", v.local ? h("span", { class: "tag" }, t("this server")) : null, v.local ? null : null),
    h("td", null, badge(v.state, undefined, word(v.health)), v.reason ? h("span", { class: "muted small" }, ` ${v.reason}`) : null),
    h("td", null, v.country ?? "—", h("span", { class: "muted" }, v.inCountry ? ` · ${t("in country")}` : ` · ${t("abroad")}`)),
    h("td", null, v.lastSeen ? `${ago(v.lastSeen)}` : t("never"), v.lastSeen ? h("span", { class: "muted small" }, ` (${formatTime(v.lastSeen)})`) : null),
    h("td", { class: "num" }, share),
    h("td", { class: "num", "data-clock": "" }, clock(v)),
  );
}

export async function renderVantages(main: HTMLElement, _params: string[], _query: URLSearchParams, live: LiveHold): Promise<Cleanup> {
  const content = h("div");
  replace(
    main,
    h("h1", null, t("Vantages")),
    h(
      "p",
      { class: "muted" },
      t(
        "Where the measurements come from. A vantage whose control targets fail is impaired: its own network is in trouble, and its results are set aside. A vantage not heard from for three probe intervals is silent, and its last results no longer count. Clock: how far an agent's clock is estimated to run behind the server's, from the freshest measurements it ships.",
      ),
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
            h("tr", null, [t("Vantage"), t("Health"), t("Country"), t("Last seen"), t("Targets OK"), t("Clock")].map((c) => h("th", { scope: "col" }, c))),
          ),
          h("tbody", null, vantages.map(row)),
        ),
      ),
    );
  };
  await load();
  let timer: number | undefined;
  const off = live.listen(() => {
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
