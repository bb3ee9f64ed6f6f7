// The time-range selector shared by the service and incident pages.
import { h } from "../dom";
import { navigate } from "../nav";
import { RANGES } from "../history";
import { t } from "../i18n";

/** The range named in `?range=` (default 1h) and its length in seconds. */
export function chosenRange(query: URLSearchParams, fallback = "1h"): [string, number] {
  const name = query.get("range") ?? fallback;
  const found = RANGES.find(([key]) => key === name) ?? RANGES.find(([key]) => key === fallback)!;
  return [found[0], found[2]];
}

/** Buttons (aria-pressed) switching `?range=` on the current page. */
export function rangeBar(current: string, extra: [string, string][] = []): HTMLElement {
  const options: [string, string][] = [...extra, ...RANGES.map(([k, label]) => [k, label] as [string, string])];
  return h(
    "div",
    { class: "toolbar" },
    h("span", { class: "muted", id: "range-label" }, t("Range")),
    h(
      "div",
      { class: "segmented", role: "group", "aria-labelledby": "range-label" },
      options.map(([key, label]) =>
        h(
          "button",
          {
            type: "button",
            "aria-pressed": key === current ? "true" : "false",
            "data-range": key,
            onclick: () => {
              const q = new URLSearchParams(location.search);
              q.set("range", key);
              navigate(`${location.pathname}?${q.toString()}`, true);
            },
          },
          label,
        ),
      ),
    ),
  );
}
