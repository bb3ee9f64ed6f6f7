// The live feed: one EventSource on /api/v1/stream shared by every view.
//
// A view fetches its data, then applies the changes the stream brings. A change made
// after the fetch was answered but before the stream (re)subscribed would be lost, so
// every `hello` (the stream's first event on each connection, also after a reconnect or
// a `reset`) counts as a new generation: a view that fetched in an older generation
// fetches again (`watchGeneration`).
export type LiveListener = (kind: "state" | "incident", data: unknown) => void;
export type StatusListener = (connected: boolean) => void;

const listeners = new Set<LiveListener>();
const statusListeners = new Set<StatusListener>();
const generationListeners = new Set<() => void>();
let source: EventSource | null = null;
let connected = false;
let generation = 0;

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
  source.addEventListener("hello", () => {
    generation += 1;
    for (const fn of generationListeners) fn();
  });
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

/**
 * Resolves at the stream's first `hello`, or after `timeoutMs` if none comes: rendering
 * the first view after it saves that view fetching its data a second time.
 */
export function whenLive(timeoutMs: number): Promise<void> {
  if (generation > 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      generationListeners.delete(done);
      window.clearTimeout(timer);
      resolve();
    };
    const timer = window.setTimeout(done, timeoutMs);
    generationListeners.add(done);
  });
}

/** How many times the stream has (re)connected; read it before fetching a view's data. */
export function liveGeneration(): number {
  return generation;
}

/**
 * Call `refetch` once if the stream has reconnected since generation `fetchedIn` (now, or
 * when it next does): changes made between the fetch and the reconnection never reach
 * the view otherwise. Returns the function that stops watching.
 */
export function watchGeneration(fetchedIn: number, refetch: () => void): () => void {
  let done = false;
  const check = () => {
    if (done || generation === fetchedIn) return;
    done = true;
    generationListeners.delete(check);
    refetch();
  };
  generationListeners.add(check);
  queueMicrotask(check);
  return () => {
    done = true;
    generationListeners.delete(check);
  };
}
