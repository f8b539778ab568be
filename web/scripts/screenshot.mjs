// screenshot.mjs opens pages in Debian's chromium (playwright-core, no
// downloaded browser), waits until they have drawn, saves a PNG of each,
// and fails when a page asked for anything outside the server's origin,
// broke its Content-Security-Policy or threw.
//
//   node scripts/screenshot.mjs http://127.0.0.1:5180 out-dir [path ...]
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, out = "screenshots", ...paths] = process.argv.slice(2);
if (!base) {
  console.error("usage: node scripts/screenshot.mjs BASE_URL [OUT_DIR] [PATH ...]");
  process.exit(2);
}
const origin = new URL(base).origin;
const targets = paths.length ? paths : ["/dashboard", "/console?run=1"];
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  for (const path of targets) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const outside = [];
    const problems = [];
    page.on("request", (r) => {
      const u = r.url();
      if (!u.startsWith("data:") && !u.startsWith("blob:") && new URL(u).origin !== origin && new URL(u).origin.replace(/^ws/, "http") !== origin) outside.push(u);
    });
    page.on("console", (m) => {
      if (m.type() === "error" || /Content.Security.Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    await page.goto(origin + path, { waitUntil: "load" });
    if (path.startsWith("/dashboard")) {
      await page.waitForFunction(() => document.getElementById("dash")?.dataset.state !== "loading", null, { timeout: 15000 });
    } else {
      await page.waitForSelector(".graphiql-container .monaco-editor", { timeout: 15000 });
    }
    await page.waitForTimeout(1500); // let the chart's animation and the response editor settle
    const file = join(out, `${path.replace(/^\//, "").replace(/[^a-z0-9]+/gi, "-").replace(/-$/, "") || "index"}.png`);
    await page.screenshot({ path: file, fullPage: path.startsWith("/dashboard") });
    console.log(`${path}: ${file}`);
    for (const p of problems) console.log(`  ${p}`);
    for (const u of outside) console.log(`  REQUEST LEFT THE ORIGIN: ${u}`);
    if (outside.length) failed = true;
    await context.close();
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
