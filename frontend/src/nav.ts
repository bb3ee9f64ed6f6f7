// In-page navigation: a history entry without a reload; main.ts re-renders on the event.
import type { LiveHold } from "./live";

export type Cleanup = () => void;
/** A page of the dashboard: it fetches its data and draws `main`; `live` holds the stream's
 * events since before the fetch, for the view to `listen` to once it has its data. */
export type View = (main: HTMLElement, params: string[], query: URLSearchParams, live: LiveHold) => Promise<Cleanup | void>;

/** Go to `href` inside the dashboard. */
export function navigate(href: string, replaceEntry = false): void {
  if (replaceEntry) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.dispatchEvent(new Event("netvigil:navigate"));
}
