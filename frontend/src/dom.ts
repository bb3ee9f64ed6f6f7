// Tiny DOM helpers: elements are built with textContent only (never innerHTML), so any
// name coming from the API is shown as text.
import { t } from "./i18n";


type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/** An element with attributes (`on*` keys become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value as EventListener);
      } else if (key === "class") {
        el.className = String(value);
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Append children (flattened; null/false skipped) to `el`. */
export function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace every child of `el`. */
export function replace(el: Element, ...children: (Child | Child[])[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A link handled by the client-side router. */
export function link(href: string, ...children: (Child | Child[])[]): HTMLAnchorElement {
  return h("a", { href, "data-nav": true }, ...children);
}

/** Seconds since the epoch as local "YYYY-MM-DD HH:MM:SS". */
export function formatTime(ts: number | null | undefined): string {
  if (ts === null || ts === undefined) return "—";
  const d = new Date(ts * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zoneName(d)}`
  );
}

/** The viewer's time zone at `d` as an offset: "UTC", "UTC+2", "UTC-3:30". */
export function zoneName(d: Date): string {
  const off = -d.getTimezoneOffset();
  if (off === 0) return "UTC";
  const a = Math.abs(off);
  const minutes = a % 60 ? `:${String(a % 60).padStart(2, "0")}` : "";
  return `UTC${off > 0 ? "+" : "-"}${Math.floor(a / 60)}${minutes}`;
}

/** A chart tick: 24-hour "HH:MM", with the day ("MM-DD HH:MM") when the range spans days. */
export function formatTick(ts: number, spanS: number): string {
  const d = new Date(ts * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return spanS > 86_400 ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
}

/** A duration in seconds as "3 s", "4 min", "2 h 5 min", "3 d". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "—";
  if (s < 60) return t("{n} s", { n: Math.round(s) });
  if (s < 3600) return t("{n} min", { n: Math.round(s / 60) });
  if (s < 86400) {
    const m = Math.round((s % 3600) / 60);
    const hours = t("{n} h", { n: Math.floor(s / 3600) });
    return m ? `${hours} ${t("{n} min", { n: m })}` : hours;
  }
  return t("{n} d", { n: Math.round(s / 86400) });
}

/** "x ago" relative to now. */
export function ago(ts: number | null | undefined): string {
  if (ts === null || ts === undefined) return t("never");
  return t("{duration} ago", { duration: formatDuration(Date.now() / 1000 - ts) });
}

/** Seconds as milliseconds text ("12.3 ms"). */
export function ms(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  const v = s * 1000;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
}
