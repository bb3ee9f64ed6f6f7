// In-page navigation: a history entry without a reload; main.ts re-renders on the event.
export type Cleanup = () => void;
export type View = (main: HTMLElement, params: string[], query: URLSearchParams) => Promise<Cleanup | void>;

/** Go to `href` inside the dashboard. */
export function navigate(href: string, replaceEntry = false): void {
  if (replaceEntry) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.dispatchEvent(new Event("netvigil:navigate"));
}
