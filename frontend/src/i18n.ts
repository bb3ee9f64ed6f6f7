// The dashboard's languages: English (the messages themselves) and Albanian, each a small
// JSON catalogue in ./locale. The language is `?lang=` (remembered for the next pages),
// else the one remembered, else the browser's (navigator.languages), else English.
// Messages are English text used as keys, with `{name}` placeholders; a message a
// catalogue lacks is said in English. States and causes are the keys of
// netvigil/vocabulary.json (English there, translated under "states" and "causes").
import en from "./locale/en.json";
import sq from "./locale/sq.json";

export interface Catalogue {
  /** The language's name in itself (the language switch shows it). */
  name: string;
  messages: Record<string, string>;
  states: Record<string, string>;
  causes: Record<string, string>;
}

export const CATALOGUES: Record<string, Catalogue> = { en, sq };
export type Lang = keyof typeof CATALOGUES;
const KEY = "netvigil.lang";

/** The language asked for by `search` (`?lang=`), else `remembered`, else the first of
 * `preferred` (browser language tags, "sq-AL" counts as "sq") we speak, else English. */
export function chooseLanguage(search: string, remembered: string | null, preferred: readonly string[]): Lang {
  const asked = new URLSearchParams(search).get("lang");
  if (asked && asked in CATALOGUES) return asked;
  if (remembered && remembered in CATALOGUES) return remembered;
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0];
    if (base in CATALOGUES) return base;
  }
  return "en";
}

function remembered(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function startLanguage(): Lang {
  const chosen = chooseLanguage(location.search, remembered(), navigator.languages ?? [navigator.language]);
  if (new URLSearchParams(location.search).has("lang")) {
    try {
      localStorage.setItem(KEY, chosen);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }
  document.documentElement.lang = chosen;
  return chosen;
}

const current: Lang = startLanguage();
const catalogue: Catalogue = CATALOGUES[current];

/** The language the dashboard speaks on this page. */
export function language(): Lang {
  return current;
}

function fill(text: string, vars?: Record<string, string | number>): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** `message` in the page's language, its `{name}` placeholders filled from `vars`. */
export function t(message: string, vars?: Record<string, string | number>): string {
  return fill(catalogue.messages[message] ?? message, vars);
}

/** The singular or plural message for `n` (English and Albanian: one, or any other number). */
export function tn(one: string, other: string, n: number, vars?: Record<string, string | number>): string {
  return t(n === 1 ? one : other, { n, ...vars });
}

/** A state's word in the page's language, or undefined when the catalogue has none. */
export function stateName(state: string): string | undefined {
  return catalogue.states[state];
}

/** A cause's short name in the page's language, or undefined when the catalogue has none. */
export function causeName(cause: string): string | undefined {
  return catalogue.causes[cause];
}
