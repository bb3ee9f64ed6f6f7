// Human words for the API's stable names (causes, incident states, event kinds).
const CAUSES: Record<string, string> = {
  volumetric_ddos: "Volumetric DDoS",
  application_ddos: "Application-layer DDoS",
  shutdown: "Deliberate shutdown",
  route_withdrawal: "Route withdrawal",
  service_failure: "Service failure",
  dns_failure: "DNS failure",
  tls_failure: "TLS failure",
  in_country_filtering: "In-country filtering",
  vantage_problem: "Vantage problem",
  unknown: "Cause not yet known",
};

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
  return CAUSES[cause] ?? cause.replace(/_/g, " ");
}

export function eventLabel(kind: string): string {
  return EVENTS[kind] ?? kind.replace(/_/g, " ");
}

/** 0.8312 -> "83%". */
export function percent(v: number): string {
  return `${Math.round(v * 100)}%`;
}
