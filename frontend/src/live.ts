// The live feed: one EventSource on /api/v1/stream shared by every view.
//
// A view fetches its data, then applies the changes the stream brings. Two gaps would
// lose a change for good (the stream tells of a path only when it turns up or down):
// - a change the stream told of while the view was still fetching: each view is handed
//   a `LiveHold` opened before its fetch, which keeps the events until the view listens
//   and then hands them over first, in order (`holdLive`);
// - a change made while the stream was away: every `hello` (the stream's first event on
//   each connection, also after a reconnect or a `reset`) counts as a new generation, and
//   a view that fetched in an older generation fetches again (`watchGeneration`).
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

function newGeneration(): void {
  generation += 1;
  for (const fn of [...generationListeners]) fn();
}

/** Open the stream (once); EventSource reconnects by itself after an error. */
export function startLive(url = "/api/v1/stream"): void {
  if (source || typeof EventSource === "undefined") return;
  source = new EventSource(url);
  source.addEventListener("open", () => setConnected(true));
  source.addEventListener("error", () => setConnected(false));
  source.addEventListener("hello", newGeneration);
  source.addEventListener("state", (e) => dispatch("state", e as MessageEvent));
  source.addEventListener("incident", (e) => dispatch("incident", e as MessageEvent));
}

/** The live events since a view began to fetch its data, held until it listens. */
export interface LiveHold {
  /** Hand `fn` the events held (oldest first), then every later one; returns the
   * function that stops listening. */
  listen(fn: LiveListener): () => void;
  /** Stop holding and listening (the view is gone, or failed before it listened). */
  stop(): void;
}

/** At most this many events are held for a view still fetching; past it the view is
 * made to fetch again (a new generation), as after a reconnect. */
const HOLD_LIMIT = 10_000;

/** Start keeping the live events for a view about to fetch its data (see the header). */
export function holdLive(): LiveHold {
  let held: [kind: "state" | "incident", data: unknown][] | null = [];
  let target: LiveListener | null = null;
  const relay: LiveListener = (kind, data) => {
    if (target) target(kind, data);
    else if (held && held.length < HOLD_LIMIT) held.push([kind, data]);
    else if (held) {
      held = null; // too much to keep: what the view fetches is stale, so it fetches again
      newGeneration();
    }
  };
  listeners.add(relay);
  const stop = () => {
    listeners.delete(relay);
    held = null;
  };
  return {
    listen(fn) {
      target = fn;
      const events = held ?? [];
      held = null;
      for (const [kind, data] of events) fn(kind, data);
      return stop;
    },
    stop,
  };
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
