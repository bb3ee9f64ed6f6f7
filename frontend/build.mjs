// Builds the dashboard into src/netvigil/web/static/: hashed app-*.js and app-*.css plus
// manifest.json, which netvigil.web.dashboard reads to write the page shell.
// `node build.mjs --outdir DIR` writes the same files into DIR instead (tests/web/test_bundle.py
// rebuilds there and compares with the committed bundle).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const watch = args.includes("--watch");
const outdirAt = args.indexOf("--outdir");
if (outdirAt >= 0 && !args[outdirAt + 1]) {
  console.error("--outdir needs a directory");
  process.exit(2);
}
const outdir =
  outdirAt >= 0 ? resolve(args[outdirAt + 1]) : join(here, "..", "src", "netvigil", "web", "static");

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
