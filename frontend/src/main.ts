// The dashboard: page shell, client-side routes under /ui/, theme and live connection.
import "./style.css";
import { h, replace } from "./dom";
import { holdLive, onLiveStatus, startLive, whenLive } from "./live";
import { type Cleanup, navigate, type View } from "./nav";
import { setupTheme } from "./theme";
import { renderIncident } from "./views/incident";
import { renderIncidents } from "./views/incidents";
import { renderNetwork } from "./views/network";
import { renderOverview } from "./views/overview";
import { renderService } from "./views/service";
import { renderVantages } from "./views/vantages";
import { CATALOGUES, language, t } from "./i18n";

/** How long the first view waits for the live stream before it fetches its data anyway. */
const FIRST_HELLO_WAIT_MS = 300;

const ROUTES: [RegExp, View, string][] = [
  [/^\/(?:ui\/?)?(?:overview)?$/, renderOverview, "overview"],
  [/^\/ui\/overview\/?$/, renderOverview, "overview"],
  [/^\/ui\/services\/([^/]+)\/?$/, renderService, "overview"],
  [/^\/ui\/networks\/([^/]+)\/?$/, renderNetwork, "overview"],
  [/^\/ui\/incidents\/?$/, renderIncidents, "incidents"],
  [/^\/ui\/incidents\/([^/]+)\/?$/, renderIncident, "incidents"],
  [/^\/ui\/vantages\/?$/, renderVantages, "vantages"],
];

const NAV: [string, string, string][] = [
  ["overview", "/", t("Overview")],
  ["incidents", "/ui/incidents", t("Incidents")],
  ["vantages", "/ui/vantages", t("Vantages")],
];

/** Links to this page in each other language (a reload: every word changes). */
function languageSwitch(): HTMLElement {
  const others = Object.entries(CATALOGUES).filter(([code]) => code !== language());
  return h(
    "span",
    { class: "lang-switch" },
    others.map(([code, c]) => {
      const q = new URLSearchParams(location.search);
      q.set("lang", code);
      return h("a", { href: `${location.pathname}?${q.toString()}`, hreflang: code, lang: code }, c.name);
    }),
  );
}

let cleanup: Cleanup | null = null;
let renderSeq = 0;

function shell(): { main: HTMLElement; nav: HTMLElement; theme: HTMLButtonElement; live: HTMLElement } {
  const theme = h("button", { type: "button", class: "theme-toggle" });
  const live = h("span", { class: "live-status", role: "status", "aria-live": "polite" });
  const nav = h(
    "nav",
    { class: "nav", "aria-label": t("Main") },
    NAV.map(([key, href, label]) => h("a", { href, "data-nav": true, "data-key": key }, label)),
    h("a", { href: language() === "en" ? "/status" : `/status?lang=${language()}` }, t("Status page")),
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  const header = h(
    "header",
    { class: "top" },
    h("a", { href: "/", "data-nav": true, class: "brand" }, h("span", { "aria-hidden": "true" }, "◉ "), "netvigil"),
    nav,
    h("div", { class: "top-tools" }, languageSwitch(), live, theme),
  );
  const skip = h("a", { href: "#main", class: "skip" }, t("Skip to content"));
  const app = document.getElementById("app") ?? document.body;
  replace(app, skip, header, main);
  return { main, nav, theme, live };
}

async function render(main: HTMLElement, nav: HTMLElement): Promise<void> {
  const seq = ++renderSeq;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const path = decodeURI(location.pathname);
  const query = new URLSearchParams(location.search);
  const found = ROUTES.map(([re, view, key]) => [re.exec(path), view, key] as const).find(([m]) => m);
  for (const a of nav.querySelectorAll("a[data-key]")) {
    if (found && a.getAttribute("data-key") === found[2]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p", { class: "loading" }, t("Loading…")));
  if (!found) {
    replace(main, h("h1", null, t("Not found")), h("p", null, t("No page at {path}.", { path })));
    return;
  }
  const [match, view] = found;
  const live = holdLive();
  try {
    const done = await view(main, match!.slice(1).map(decodeURIComponent), query, live);
    const stop = () => {
      if (done) done();
      live.stop();
    };
    if (seq !== renderSeq) {
      stop();
      return;
    }
    cleanup = stop;
  } catch (err) {
    live.stop();
    if (seq !== renderSeq) return;
    replace(
      main,
      h("h1", null, t("Could not load this page")),
      h("p", { class: "error", role: "alert" }, err instanceof Error ? err.message : String(err)),
    );
  }
}

function start(): void {
  const { main, nav, theme, live } = shell();
  const rerender = () => void render(main, nav);
  setupTheme(theme, rerender);
  document.addEventListener("click", (e) => {
    const a = (e.target as Element | null)?.closest?.("a[data-nav]") as HTMLAnchorElement | null;
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    if (a.origin !== location.origin) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
    window.scrollTo(0, 0);
  });
  window.addEventListener("popstate", rerender);
  window.addEventListener("netvigil:navigate", rerender);
  onLiveStatus((up) => {
    live.textContent = up ? t("● live") : t("○ reconnecting");
    live.className = `live-status ${up ? "on" : "off"}`;
    live.title = up ? t("Receiving live updates") : t("Live updates paused; reconnecting");
  });
  startLive();
  void whenLive(FIRST_HELLO_WAIT_MS).then(rerender);
}

start();
