// Builds the dashboard into src/netvigil/web/static/: hashed app-*.js and app-*.css plus
// manifest.json, which netvigil.web.dashboard reads to write the page shell.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "src", "netvigil", "web", "static");
const watch = process.argv.includes("--watch");

mkdirSync(outdir, { recursive: true });
for (const name of readdirSync(outdir)) {
  if (/^app-[A-Z0-9]+\.(js|css)$/.test(name) || name === "manifest.json") {
    rmSync(join(outdir, name));
  }
}

const result = await build({
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: !watch,
  sourcemap: false,
  legalComments: "none",
  entryNames: "[name]-[hash]",
  outdir,
  metafile: true,
  logLevel: "info",
});

const manifest = {};
for (const [path, info] of Object.entries(result.metafile.outputs)) {
  if (!info.entryPoint && !path.endsWith(".css")) continue;
  const file = basename(path);
  manifest[file.endsWith(".css") ? "app.css" : "app.js"] = file;
}
for (const name of readdirSync(join(here, "public"))) {
  copyFileSync(join(here, "public", name), join(outdir, name));
}
writeFileSync(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log("manifest:", manifest);
