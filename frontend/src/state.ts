// The state vocabulary of the dashboard: every state has a word and an icon as well as a
// colour, so colour is never the only signal.
import { h } from "./dom";
import { stateWord as word } from "./words";
import { t } from "./i18n";

export type State = "up" | "down" | "degraded" | "maintenance" | "stale" | "unknown";

const ICONS: Record<State, string> = {
  up: "✓",
  down: "✕",
  degraded: "!",
  maintenance: "⚒",
  stale: "…",
  unknown: "?",
};

const WORDS: Record<State, string> = {
  up: word("up"),
  down: word("down"),
  degraded: word("degraded"),
  maintenance: word("maintenance"),
  stale: word("stale"),
  unknown: word("unknown"),
};

const RANK: Record<State, number> = {
  down: 5,
  degraded: 4,
  maintenance: 3,
  stale: 2,
  unknown: 1,
  up: 0,
};

/** Normalise whatever the API calls a state into one of ours. */
export function toState(value: unknown, ok?: unknown): State {
  const v = typeof value === "string" ? value.toLowerCase() : "";
  if (["up", "ok", "working", "healthy", "operational"].includes(v)) return "up";
  if (["down", "failing", "outage"].includes(v)) return "down";
  if (["degraded", "partial", "impaired"].includes(v)) return "degraded";
  if (v === "maintenance") return "maintenance";
  if (v === "stale" || v === "silent") return "stale";
  if (ok === true) return "up";
  if (ok === false) return "down";
  return "unknown";
}

/** The worse of two states. */
export function worst(a: State, b: State): State {
  return RANK[a] >= RANK[b] ? a : b;
}

/** A badge: icon + word, coloured by state. */
export function badge(state: State, extra?: string, word?: string): HTMLSpanElement {
  return h(
    "span",
    { class: `badge st-${state}`, "data-state": state },
    h("span", { class: "icon", "aria-hidden": "true" }, ICONS[state]),
    h("span", { class: "word" }, word ?? WORDS[state]),
    extra ? h("span", { class: "extra" }, extra) : null,
  );
}

export function stateWord(state: State): string {
  return WORDS[state];
}

export function stateIcon(state: State): string {
  return ICONS[state];
}

/** The badge of an incident: its own state word, coloured by how bad it is. */
export function incidentBadge(state: string): HTMLSpanElement {
  const look: State = state === "resolved" ? "up" : state === "confirmed" ? "down" : "degraded";
  return badge(look, undefined, incidentStateWord(state));
}

/** An incident's state in the page's language: "confirmed" ("e konfirmuar"). */
function incidentStateWord(state: string): string {
  switch (state) {
    case "suspected":
      return t("suspected");
    case "confirmed":
      return t("confirmed");
    case "resolved":
      return t("resolved");
    default:
      return state;
  }
}
