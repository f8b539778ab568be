// What the browser tests share: Debian's chromium driven by playwright-core
// (no downloaded browser), a page that fails the test when it asks for
// anything off this machine, breaks its Content-Security-Policy or throws,
// and the API calls the tests compare the pages with.
//
// Configured by the environment the Go test (cmd/tally/browser_test.go)
// sets: TALLY_URL (a running tally demo), TALLY_ACCOUNT, CHROMIUM,
// TALLY_SCREENSHOTS (a directory: save the pages' pictures there),
// TALLY_LIVE=1 (the server accepts WebSocket subscriptions).
import { inflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const config = {
  base: required("TALLY_URL").replace(/\/$/, ""),
  account: required("TALLY_ACCOUNT"),
  chromium: process.env.CHROMIUM || "/usr/bin/chromium",
  screenshots: process.env.TALLY_SCREENSHOTS || "",
  live: process.env.TALLY_LIVE === "1",
  // A zone of its own, so that the pages' zone handling is exercised.
  timeZone: process.env.TALLY_BROWSER_TZ || "America/New_York",
};

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through go test ./cmd/tally -run TestBrowser`);
  return v;
}

/** isLoopback tells whether a URL's host is this machine. */
export function isLoopback(url) {
  const u = new URL(url);
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  const h = u.hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * withPage opens a new browser and page, runs fn(page), and fails when the
 * page requested anything off this machine (such requests are aborted, and
 * chromium resolves no name but localhost), violated its CSP or threw.
 */
export async function withPage(fn) {
  const browser = await chromium.launch({
    executablePath: config.chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-features=Translate,OptimizationHints,MediaRouter",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]",
    ],
  });
  const outside = [];
  const problems = [];
  try {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1,
      timezoneId: config.timeZone,
      locale: "en-US",
      acceptDownloads: true,
    });
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      outside.push(url);
      return route.abort("blockedbyclient");
    });
    const page = await context.newPage();
    page.on("websocket", (ws) => {
      if (!isLoopback(ws.url())) outside.push(ws.url());
    });
    page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
      else if (m.type() === "error") console.log(`  (page console error: ${m.text().slice(0, 200)})`);
    });
    page.setDefaultTimeout(30000);
    await fn(page, context);
  } finally {
    await browser.close();
  }
  if (outside.length) throw new Error(`requests left the machine:\n  ${outside.join("\n  ")}`);
  if (problems.length) throw new Error(`the page misbehaved:\n  ${problems.join("\n  ")}`);
}

/** accountHeaders are the credentials of the demo account. */
export function accountHeaders() {
  return { "X-Moveo-Account-Id": config.account };
}

/** graphql POSTs a query to the API and returns its data, failing on errors. */
export async function graphql(query, variables = {}) {
  const res = await fetch(`${config.base}/v1/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...accountHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/**
 * restParams are the REST endpoint's parameters for a dashboard URL: the
 * dashboard keeps its state under the endpoint's names, plus its own
 * account and live, which the endpoint does not take.
 */
export function restParams(pageURL) {
  const q = new URL(pageURL).searchParams;
  q.delete("account");
  q.delete("live");
  return q;
}

/** rest GETs the REST endpoint; accept chooses JSON or CSV. */
export async function rest(params, accept = "application/json") {
  const res = await fetch(`${config.base}/api/rest/open-closed-sessions?${params}`, { headers: { ...accountHeaders(), Accept: accept } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`REST ${params}: HTTP ${res.status} ${text}`);
  return text;
}

/** ingest POSTs NDJSON records to /v1/sessions. */
export async function ingest(records) {
  const res = await fetch(`${config.base}/v1/sessions`, {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson", ...accountHeaders() },
    body: records.map((r) => JSON.stringify(r)).join("\n") + "\n",
  });
  if (res.status !== 200) throw new Error(`ingest: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** parseCSV reads RFC 4180 text into rows of fields. */
export function parseCSV(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === "\r") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (quoted) throw new Error("CSV ends inside a quoted field");
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** until polls fn until it returns a truthy value, or fails after ms with what. */
export async function until(what, fn, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * pngPixels decodes an 8-bit, non-interlaced RGB or RGBA PNG (what
 * chromium's screenshots are) into {width, height, rgba}.
 */
export function pngPixels(png) {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  for (let at = 8; at < png.length; ) {
    const len = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, color, , , interlace] = data.subarray(8);
      if (depth !== 8 || interlace !== 0 || (color !== 2 && color !== 6)) throw new Error(`unsupported PNG (depth ${depth}, colour ${color}, interlace ${interlace})`);
      channels = color === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? line[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[x] = (line[x] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = line[x * channels];
      out[(y * width + x) * 4 + 1] = line[x * channels + 1];
      out[(y * width + x) * 4 + 2] = line[x * channels + 2];
      out[(y * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}

/** countColour counts the pixels within tolerance of a #rrggbb colour. */
export function countColour({ rgba }, hex, tolerance = 8) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (Math.abs(rgba[i] - r) <= tolerance && Math.abs(rgba[i + 1] - g) <= tolerance && Math.abs(rgba[i + 2] - b) <= tolerance) n++;
  }
  return n;
}
