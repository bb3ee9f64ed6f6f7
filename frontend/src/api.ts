// The JSON API under /api/v1, read into the shapes the views use.
import { type State, toState } from "./state";

const BASE = "/api/v1";

/** A failed API call, with the message of the API's error shape when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;
type Params = Record<string, string | number | boolean | string[] | null | undefined>;

function url(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) q.append(k, item);
    else q.set(k, String(v));
  }
  const qs = q.toString();
  return `${BASE}${path}${qs ? `?${qs}` : ""}`;
}

/** GET a JSON document; raises ApiError with the API's own message on failure. */
export async function getJSON<T = unknown>(path: string, params: Params = {}): Promise<T> {
  const res = await fetch(url(path, params), { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as Json;
      if (typeof body.error === "string") message = body.error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(`${path}: ${message}`, res.status);
  }
  return (await res.json()) as T;
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const names = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** `data[key]` when the API wraps a list in an object, else `data` itself. */
function items(data: unknown, key: string): Json[] {
  if (Array.isArray(data)) return data as Json[];
  if (data && typeof data === "object") return list((data as Json)[key]);
  return [];
}

// -- current state ---------------------------------------------------------------------

/** The newest result of one target from one vantage (the SSE `state` event's data). */
export interface Pair {
  target: string;
  vantage: string;
  kind: string | null;
  ok: boolean;
  state: State;
  outcome: string | null;
  phase: string | null;
  since: number | null;
  lastTs: number | null;
  latencyS: number | null;
  certDaysLeft: number | null;
}

export function readPair(p: Json): Pair {
  const ok = p.ok === true;
  return {
    target: String(p.target ?? ""),
    vantage: String(p.vantage ?? ""),
    kind: str(p.kind),
    ok,
    state: ok ? "up" : "down",
    outcome: str(p.outcome),
    phase: str(p.phase),
    since: num(p.since),
    lastTs: num(p.last_ts) ?? num(p.ts),
    latencyS: num(p.latency_s),
    certDaysLeft: num(p.cert_days_left),
  };
}

export interface Target {
  name: string;
  service: string | null;
  kind: string | null;
  control: boolean;
  state: State;
  since: number | null;
  pairs: Pair[];
}

export interface Service {
  name: string;
  description: string;
  organization: string | null;
  network: string | null;
  country: string | null;
  state: State;
  since: number | null;
  targetNames: string[];
  /** Per-target state: filled by `getService` only. */
  targets: Target[];
  incidents: string[];
}

function readTarget(t: Json, service: string | null): Target {
  const name = String(t.name ?? t.target ?? "");
  // PairOut has no target field: it is the target's.
  const pairs = list(t.vantages ?? t.pairs).map((p) => readPair({ target: name, ...p }));
  return {
    name,
    service: str(t.service) ?? service,
    kind: str(t.kind),
    control: t.control === true,
    state: toState(t.status ?? t.state),
    since: num(t.since),
    pairs,
  };
}

/** A service from `/services` (targets by name) or `/services/{name}` (with `target_states`). */
export function readService(s: Json): Service {
  const name = String(s.name ?? s.service ?? "");
  const states = list(s.target_states).map((t) => readTarget(t, name));
  return {
    name,
    description: str(s.description) ?? "",
    organization: str(s.organization),
    network: str(s.network),
    country: str(s.country),
    state: toState(s.status ?? s.state),
    since: num(s.since),
    targetNames: names(s.targets),
    targets: states,
    incidents: names(s.open_incidents ?? s.incidents),
  };
}

export async function getServices(): Promise<Service[]> {
  return items(await getJSON("/services"), "services").map(readService);
}

export async function getService(name: string): Promise<Service> {
  return readService(await getJSON<Json>(`/services/${encodeURIComponent(name)}`));
}

/** Every target with its fresh results, by vantage. */
export async function getTargets(): Promise<Target[]> {
  return items(await getJSON("/targets"), "targets").map((t) => readTarget(t, null));
}

/** The services x vantages grid as the server judges it now. */
export interface Overview {
  generatedAt: number;
  vantages: string[];
  counts: Record<string, number>;
  rows: { service: string; state: State; since: number | null; cells: State[] }[];
}

export async function getOverview(): Promise<Overview> {
  const data = await getJSON<Json>("/overview");
  const counts: Record<string, number> = {};
  if (data.counts && typeof data.counts === "object") {
    for (const [k, v] of Object.entries(data.counts as Json)) if (typeof v === "number") counts[k] = v;
  }
  return {
    generatedAt: num(data.generated_at) ?? Date.now() / 1000,
    vantages: names(data.vantages),
    counts,
    rows: list(data.services).map((r) => ({
      service: String(r.service ?? ""),
      state: toState(r.status),
      since: num(r.since),
      cells: (Array.isArray(r.cells) ? r.cells : []).map((c) => toState(c)),
    })),
  };
}

// -- vantages --------------------------------------------------------------------------

export interface Vantage {
  name: string;
  local: boolean;
  country: string | null;
  inCountry: boolean;
  lastSeen: number | null;
  targets: number | null;
  ok: number | null;
  health: string;
  reason: string;
  clockOffset: number | null;
  state: State;
}

export async function getVantages(): Promise<Vantage[]> {
  return items(await getJSON("/vantages"), "vantages").map((v) => {
    const health = String(v.health ?? "unknown");
    return {
      name: String(v.name ?? ""),
      local: v.local === true,
      country: str(v.country),
      inCountry: v.in_country === true,
      lastSeen: num(v.last_seen),
      targets: num(v.targets),
      ok: num(v.ok),
      health,
      reason: String(v.reason ?? ""),
      clockOffset: num(v.clock_offset_s),
      state: toState(health),
    };
  });
}

// -- incidents -------------------------------------------------------------------------

export interface EvidenceItem {
  statement: string;
  topic: string;
  weight: number;
  cause: string;
}

export interface CauseStep {
  ts: number;
  cause: string;
  confidence: number;
}

export interface TimelineEntry {
  kind: string;
  ts: number;
  state: string | null;
  cause: string | null;
  confidence: number | null;
}

export interface Incident {
  id: string;
  state: string;
  open: boolean;
  start: number;
  confirmedAt: number | null;
  end: number | null;
  cause: string;
  confidence: number;
  services: string[];
  targets: string[];
  networks: string[];
  organizations: string[];
  vantages: string[];
  vantage: string | null;
  maintenance: string | null;
  evidence: EvidenceItem[];
  causeHistory: CauseStep[];
  probabilities: Record<string, number>;
  timeline: TimelineEntry[];
  provisional: boolean;
  acknowledged: boolean;
  notes: IncidentNote[];
}

export interface IncidentNote {
  kind: string;
  ts: number;
  author: string;
  text: string;
}

export function readIncident(i: Json): Incident {
  const state = String(i.state ?? "suspected");
  const probabilities: Record<string, number> = {};
  if (i.probabilities && typeof i.probabilities === "object") {
    for (const [k, v] of Object.entries(i.probabilities as Json)) {
      if (typeof v === "number") probabilities[k] = v;
    }
  }
  return {
    id: String(i.id ?? ""),
    state,
    open: state !== "resolved",
    start: num(i.start) ?? 0,
    confirmedAt: num(i.confirmed_at),
    end: num(i.end),
    cause: String(i.cause ?? "unknown"),
    confidence: num(i.confidence) ?? 0,
    services: names(i.services),
    targets: names(i.targets),
    networks: names(i.networks),
    organizations: names(i.organizations),
    vantages: names(i.vantages),
    vantage: str(i.vantage),
    maintenance: str(i.maintenance),
    evidence: list(i.evidence).map((e) => ({
      statement: String(e.statement ?? ""),
      topic: String(e.topic ?? ""),
      weight: num(e.weight) ?? 0,
      cause: String(e.cause ?? ""),
    })),
    causeHistory: list(i.cause_history).map((c) => ({
      ts: num(c.ts) ?? 0,
      cause: String(c.cause ?? ""),
      confidence: num(c.confidence) ?? 0,
    })),
    probabilities,
    provisional: i.provisional === true,
    acknowledged: i.acknowledged === true,
    notes: list(i.notes).map((n) => ({
      kind: String(n.kind ?? "note"),
      ts: num(n.ts) ?? 0,
      author: String(n.author ?? ""),
      text: String(n.text ?? ""),
    })),
    timeline: list(i.timeline ?? i.events).map((e) => {
      const snap = (e.incident as Json | undefined) ?? e;
      return {
        kind: String(e.kind ?? ""),
        ts: num(e.ts) ?? 0,
        state: str(snap.state),
        cause: str(snap.cause),
        confidence: num(snap.confidence),
      };
    }),
  };
}

export async function getIncidents(params: Params = {}): Promise<Incident[]> {
  return items(await getJSON("/incidents", params), "incidents").map(readIncident);
}

export async function getIncident(id: string): Promise<Incident> {
  const data = await getJSON<Json>(`/incidents/${encodeURIComponent(id)}`);
  const inc = readIncident((data.incident as Json | undefined) ?? data);
  if (!inc.timeline.length && Array.isArray(data.events)) {
    inc.timeline = readIncident({ events: data.events }).timeline;
  }
  return inc;
}

// -- history ---------------------------------------------------------------------------

export interface RollupRow {
  minute: number;
  target: string;
  vantage: string;
  count: number;
  okCount: number;
  p50: number | null;
  p95: number | null;
  outcomes: Record<string, number>;
}

function readRollup(r: Json): RollupRow {
  const outcomes: Record<string, number> = {};
  if (r.outcomes && typeof r.outcomes === "object") {
    for (const [k, v] of Object.entries(r.outcomes as Json)) if (typeof v === "number") outcomes[k] = v;
  }
  return {
    minute: num(r.minute) ?? 0,
    target: String(r.target ?? ""),
    vantage: String(r.vantage ?? ""),
    count: num(r.count) ?? 0,
    okCount: num(r.ok_count) ?? 0,
    p50: num(r.latency_p50_s),
    p95: num(r.latency_p95_s),
    outcomes,
  };
}

const ROLLUP_PAGE = 20_000;
const MAX_PAGES = 20;

/** Rollups of `targets` in [since, until), per minute or in `step`-second buckets, following the pages. */
export async function getRollups(targets: string[], since: number, until: number, step = 60): Promise<RollupRow[]> {
  if (!targets.length) return [];
  const out: RollupRow[] = [];
  let from: number | null = Math.floor(since);
  for (let page = 0; from !== null && page < MAX_PAGES; page++) {
    const data = await getJSON<Json>("/rollups", { target: targets, since: from, until: Math.ceil(until), limit: ROLLUP_PAGE, step });
    out.push(...items(data, "items").map(readRollup));
    from = num(data.next_since);
  }
  return out;
}
