// Human words for the API's stable names (causes, states, incident events). States and
// causes come from netvigil/vocabulary.json, the one file the CLI, alerts, reports and the
// status page read too.
import vocabulary from "../../src/netvigil/vocabulary.json";

const CAUSES: Record<string, { label: string; plain: string }> = vocabulary.causes;
const STATES: Record<string, string> = vocabulary.states;

/** "degraded" -> "partly down". */
export function stateWord(state: string): string {
  return STATES[state] ?? state.replace(/_/g, " ");
}

const EVENTS: Record<string, string> = {
  opened: "Opened (suspected)",
  confirmed: "Confirmed",
  cause_changed: "Cause changed",
  updated: "Updated",
  resolved: "Resolved",
  synced: "Updated",
};

/** "volumetric_ddos" -> "Volumetric DDoS". */
export function causeLabel(cause: string): string {
  const label = CAUSES[cause]?.label ?? cause.replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

export function eventLabel(kind: string): string {
  return EVENTS[kind] ?? kind.replace(/_/g, " ");
}

/** 0.8312 -> "83%". */
export function percent(v: number): string {
  return `${Math.round(v * 100)}%`;
}
