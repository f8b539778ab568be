// Apollo Client against Tally through HttpLink, BatchHttpLink and
// PersistedQueryLink (POST and GET for hashed queries): the SPEC query, a
// fragment and an error through each. PersistedQueryLink must fall back
// to full queries on Hasura's PersistedQueryNotSupported.
import { createHash } from "node:crypto";
import { ApolloClient, InMemoryCache, HttpLink, gql } from "@apollo/client";
import { BatchHttpLink } from "@apollo/client/link/batch-http";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { docs, endpoint, headers, recordingFetch, errorsOf, strip, print, requests } from "./common.mjs";

const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const http = () => new HttpLink({ uri: endpoint, headers, fetch: recordingFetch });
const links = {
  http: http(),
  batch: new BatchHttpLink({ uri: endpoint, headers, fetch: recordingFetch, batchMax: 10, batchInterval: 20 }),
  persisted: new PersistedQueryLink({ sha256 }).concat(http()),
  persistedGet: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(http()),
};

const out = {};
for (const [name, link] of Object.entries(links)) {
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const first = requests.length;
  // All at once, so that the batch link sends them in one request.
  const answers = await Promise.all(
    Object.entries(docs).map(async ([doc, d]) => {
      const r = await client.query({ query: gql(d.query), variables: d.variables, fetchPolicy: "no-cache", errorPolicy: "all" });
      return [doc, r.error ? { errors: errorsOf(r.error.errors) } : { data: strip(r.data) }];
    }),
  );
  out[name] = { results: Object.fromEntries(answers), requests: requests.slice(first) };
}
print({ links: out });
