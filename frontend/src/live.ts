// The live feed: one EventSource on /api/v1/stream shared by every view.
export type LiveListener = (kind: "state" | "incident", data: unknown) => void;
export type StatusListener = (connected: boolean) => void;

const listeners = new Set<LiveListener>();
const statusListeners = new Set<StatusListener>();
let source: EventSource | null = null;
let connected = false;

function setConnected(value: boolean): void {
  connected = value;
  for (const fn of statusListeners) fn(value);
}

function dispatch(kind: "state" | "incident", event: MessageEvent): void {
  let data: unknown;
  try {
    data = JSON.parse(String(event.data));
  } catch {
    return;
  }
  for (const fn of listeners) fn(kind, data);
}

/** Open the stream (once); EventSource reconnects by itself after an error. */
export function startLive(url = "/api/v1/stream"): void {
  if (source || typeof EventSource === "undefined") return;
  source = new EventSource(url);
  source.addEventListener("open", () => setConnected(true));
  source.addEventListener("error", () => setConnected(false));
  source.addEventListener("state", (e) => dispatch("state", e as MessageEvent));
  source.addEventListener("incident", (e) => dispatch("incident", e as MessageEvent));
}

/** Subscribe to live events; returns the unsubscribe function. */
export function onLive(fn: LiveListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Subscribe to connection changes (called at once with the current one). */
export function onLiveStatus(fn: StatusListener): () => void {
  statusListeners.add(fn);
  fn(connected);
  return () => statusListeners.delete(fn);
}
