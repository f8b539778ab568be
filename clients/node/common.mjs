// Shared by the client scripts: arguments, a fetch that records what each
// client sends and receives, and results reduced to {data} or {errors}.
// Usage of every script: node SCRIPT.mjs URL ACCOUNT DOCUMENTS.json
// DOCUMENTS.json: {"spec": {query, variables}, "fragment": {...},
// "error": {...}}. Each script prints one JSON object on stdout.
import { readFileSync } from "node:fs";

export const [url, account, docsPath] = process.argv.slice(2);
export const endpoint = url + "/v1/graphql";
export const headers = { "X-Moveo-Account-Id": account };
export const docs = JSON.parse(readFileSync(docsPath, "utf8"));

// requests lists every HTTP exchange the clients made.
export const requests = [];

// recordingFetch is fetch, remembering each request's method, whether its
// body held a query text or only a persisted query's hash, and the
// answer's status and encoding.
export async function recordingFetch(input, init) {
  const req = new Request(input, init);
  const text = req.body ? await req.clone().text() : "";
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {}
  const items = Array.isArray(body) ? body : body ? [body] : [];
  const res = await fetch(req);
  requests.push({
    method: req.method,
    path: new URL(req.url).pathname,
    batch: Array.isArray(body) ? body.length : 0,
    withQuery: items.some((b) => typeof b.query === "string"),
    hashOnly: items.some((b) => b.query === undefined && b.extensions?.persistedQuery) || (req.method === "GET" && req.url.includes("persistedQuery")),
    status: res.status,
    contentEncoding: res.headers.get("content-encoding"),
    requestId: res.headers.get("x-request-id"),
  });
  return res;
}

// strip removes the __typename fields clients add to every selection.
export function strip(v) {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) if (k !== "__typename") out[k] = strip(x);
    return out;
  }
  return v;
}

// errorsOf reduces GraphQL errors to message, code and path.
export function errorsOf(list) {
  return (list || []).map((e) => ({ message: e.message, code: e.extensions?.code, path: e.extensions?.path }));
}

export function print(out) {
  console.log(JSON.stringify({ ...out, requests }));
}
