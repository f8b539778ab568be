// serve.mjs serves the built pages the way Tally's server is meant to, for
// trying them against a running Tally before the server does it itself:
// /console and /dashboard with start-up defaults injected, /assets/* from
// dist/, the Content-Security-Policy of web/README.md, and /v1/* (HTTP and
// WebSocket) forwarded to TALLY_URL.
//
//   TALLY_URL=http://127.0.0.1:8080 TALLY_DEFAULTS='{"accountId":"…"}' node scripts/serve.mjs [port]
import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer, request } from "node:http";
import { connect } from "node:net";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const upstream = new URL(process.env.TALLY_URL ?? "http://127.0.0.1:8080");
const defaults = process.env.TALLY_DEFAULTS ?? "{}";
JSON.parse(defaults); // fail early on a typo
const port = Number(process.argv[2] ?? 5180);

export const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".ttf": "font/ttf", ".svg": "image/svg+xml", ".json": "application/json", ".woff2": "font/woff2" };
const open = '<script id="tally-defaults" type="application/json">';

function page(name) {
  const html = readFileSync(join(dist, name), "utf8");
  const start = html.indexOf(open) + open.length;
  const end = html.indexOf("</script>", start);
  // The same escaping as Go's json.Marshal, so no value ends the element.
  const json = JSON.stringify(JSON.parse(defaults)).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
  return html.slice(0, start) + json + html.slice(end);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname.startsWith("/v1/")) {
    const up = request(new URL(req.url, upstream), { method: req.method, headers: { ...req.headers, host: upstream.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`upstream ${upstream.href}: ${e.message}\n`);
    });
    req.pipe(up);
    return;
  }
  const headers = { "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer" };
  if (url.pathname === "/") {
    res.writeHead(302, { location: "/dashboard" });
    res.end();
  } else if (url.pathname === "/console" || url.pathname === "/dashboard") {
    res.writeHead(200, { ...headers, "content-type": types[".html"], "cache-control": "no-cache" });
    res.end(page(`${url.pathname.slice(1)}.html`));
  } else if (url.pathname.startsWith("/assets/")) {
    const file = normalize(join(dist, decodeURIComponent(url.pathname)));
    let ok = file.startsWith(join(dist, "assets"));
    try {
      ok &&= statSync(file).isFile();
    } catch {
      ok = false;
    }
    if (!ok) {
      res.writeHead(404, headers);
      res.end("not found\n");
      return;
    }
    res.writeHead(200, { ...headers, "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "public, max-age=31536000, immutable" });
    createReadStream(file).pipe(res);
  } else {
    res.writeHead(404, headers);
    res.end("not found\n");
  }
});

// WebSocket upgrades on /v1/graphql are passed through byte for byte.
server.on("upgrade", (req, socket, head) => {
  const up = connect(Number(upstream.port || 80), upstream.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries({ ...req.headers, host: upstream.host }).map(([k, v]) => `${k}: ${v}`), "", ""];
    up.write(lines.join("\r\n"));
    up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  up.on("error", () => socket.destroy());
  socket.on("error", () => up.destroy());
});

server.listen(port, "127.0.0.1", () => console.log(`pages on http://127.0.0.1:${port}/dashboard and /console, API from ${upstream.href}`));
