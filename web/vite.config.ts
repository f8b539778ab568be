// Vite builds Tally's two pages from src/ into dist/, which the Go package
// web embeds (see web.go). Asset URLs are relative (./assets/…), so the
// pages work wherever the server mounts them, and nothing is fetched from
// another host.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

const web = fileURLToPath(new URL(".", import.meta.url));
const dist = join(web, "dist");

// The files whose contents decide the build. web_test.go lists the same
// files and fails when any of them no longer matches dist/build-inputs.sha256.
const configFiles = ["package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"];
const sourceDir = "src";

function filesUnder(dir: string): string[] {
  return readdirSync(join(web, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    return e.isDirectory() ? filesUnder(path) : [path];
  });
}

// buildInputs lists every input with its SHA-256, one "hash  path" line per
// file sorted by path (the format of sha256sum, so `sha256sum -c` checks it).
export function buildInputs(): string {
  const paths = [...configFiles, ...filesUnder(sourceDir)].sort();
  return paths
    .map((p) => `${createHash("sha256").update(readFileSync(join(web, p))).digest("hex")}  ${p}\n`)
    .join("");
}

// tallyBuild empties dist/ except the committed README.txt (Vite's own
// emptyOutDir would delete it) and writes build-inputs.sha256.
function tallyBuild(): Plugin {
  return {
    name: "tally-build",
    apply: "build",
    buildStart() {
      for (const name of readdirSync(dist)) {
        if (name !== "README.txt") rmSync(join(dist, name), { recursive: true, force: true });
      }
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "build-inputs.sha256", source: buildInputs() });
    },
  };
}

const tally = process.env.TALLY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: join(web, sourceDir),
  base: "./",
  publicDir: false,
  plugins: [tallyBuild()],
  build: {
    outDir: dist,
    emptyOutDir: false,
    assetsDir: "assets",
    sourcemap: false,
    // GraphiQL's editor (Monaco) is one large chunk; the figure is reported
    // in web/README.md rather than warned about on every build.
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      // React libraries mark modules "use client", which means nothing here.
      onLog(level, log, handler) {
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
      input: {
        console: join(web, sourceDir, "console.html"),
        dashboard: join(web, sourceDir, "dashboard.html"),
      },
    },
  },
  worker: { format: "es" },
  // `npm run dev` serves src/ and forwards the API to a running Tally.
  server: { proxy: { "/v1": { target: tally, ws: true } } },
  test: {
    root: web,
    include: ["src/**/*.test.ts"],
  },
});
