// Human words for the API's stable names (causes, states, incident events). States and
// causes come from netvigil/vocabulary.json, the one file the CLI, alerts, reports and the
// status page read too; the page's language catalogue (i18n.ts) names them in Albanian.
import vocabulary from "../../src/netvigil/vocabulary.json";
import { causeName, stateName, t } from "./i18n";

const CAUSES: Record<string, { label: string; plain: string }> = vocabulary.causes;
const STATES: Record<string, string> = vocabulary.states;

/** "degraded" -> "partly down". */
export function stateWord(state: string): string {
  return stateName(state) ?? STATES[state] ?? state.replace(/_/g, " ");
}

/** "volumetric_ddos" -> "Volumetric DDoS". */
export function causeLabel(cause: string): string {
  const label = causeName(cause) ?? CAUSES[cause]?.label ?? cause.replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

export function eventLabel(kind: string): string {
  switch (kind) {
    case "opened":
      return t("Opened (suspected)");
    case "confirmed":
      return t("Confirmed");
    case "cause_changed":
      return t("Cause changed");
    case "updated":
    case "synced":
      return t("Updated");
    case "resolved":
      return t("Resolved");
    default:
      return kind.replace(/_/g, " ");
  }
}

/** 0.8312 -> "83%". */
export function percent(v: number): string {
  return `${Math.round(v * 100)}%`;
}
