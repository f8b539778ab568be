// urql against Tally: the SPEC query, a fragment and an error with POST,
// as Hasura's users configure it (preferGetMethod: false); and the SPEC
// query with urql's default, GET, which Hasura answers
// PersistedQueryNotSupported.
import { Client, fetchExchange } from "@urql/core";
import { docs, endpoint, headers, recordingFetch, errorsOf, strip, print } from "./common.mjs";

function client(preferGetMethod) {
  return new Client({ url: endpoint, exchanges: [fetchExchange], fetch: recordingFetch, fetchOptions: { headers }, preferGetMethod, requestPolicy: "network-only" });
}
const post = client(false);
const results = {};
for (const [name, doc] of Object.entries(docs)) {
  const r = await post.query(doc.query, doc.variables).toPromise();
  results[name] = r.error ? { errors: errorsOf(r.error.graphQLErrors) } : { data: strip(r.data) };
}
const g = await client(undefined).query(docs.spec.query, docs.spec.variables).toPromise();
const byGet = g.error ? { errors: errorsOf(g.error.graphQLErrors) } : { data: g.data };
print({ results, byGet });
