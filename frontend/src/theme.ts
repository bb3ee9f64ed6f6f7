// Light/dark theme: follows prefers-color-scheme until the reader picks one with the toggle.
import { t } from "./i18n";

const KEY = "netvigil-theme";
type Choice = "auto" | "light" | "dark";
const ORDER: Choice[] = ["auto", "light", "dark"];
const LABEL: Record<Choice, string> = { auto: t("◐ Auto"), light: t("☀ Light"), dark: t("☾ Dark") };

function stored(): Choice {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "auto";
  } catch {
    return "auto";
  }
}

function apply(choice: Choice): void {
  const root = document.documentElement;
  if (choice === "auto") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", choice);
}

/** The theme the page shows now. */
export function effectiveTheme(): "light" | "dark" {
  const choice = stored();
  if (choice !== "auto") return choice;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** Apply the stored choice and wire `button` to cycle auto → light → dark. */
export function setupTheme(button: HTMLButtonElement, onChange: () => void): void {
  let choice = stored();
  apply(choice);
  const label = () => {
    button.textContent = LABEL[choice];
    button.setAttribute("aria-label", t("Colour theme: {choice} (click to change)", { choice: LABEL[choice].slice(2) }));
  };
  label();
  button.addEventListener("click", () => {
    choice = ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
    try {
      if (choice === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
    apply(choice);
    label();
    onChange();
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (choice === "auto") onChange();
  });
}
