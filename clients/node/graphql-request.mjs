// graphql-request against Tally: the SPEC query, a fragment, an error,
// and a batch of the three.
import { GraphQLClient, ClientError } from "graphql-request";
import { docs, endpoint, headers, recordingFetch, errorsOf, print } from "./common.mjs";

const client = new GraphQLClient(endpoint, { headers, fetch: recordingFetch });
const results = {};
for (const [name, doc] of Object.entries(docs)) {
  try {
    results[name] = { data: await client.request(doc.query, doc.variables) };
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    results[name] = { errors: errorsOf(e.response.errors) };
  }
}
// A batch of the three, answers kept per operation (errorPolicy "all").
const batching = new GraphQLClient(endpoint, { headers, fetch: recordingFetch, errorPolicy: "all" });
const order = ["spec", "fragment", "error"];
const answers = await batching.batchRequests(order.map((name) => ({ document: docs[name].query, variables: docs[name].variables })));
const batch = answers.map((r) => (r.errors ? { errors: errorsOf(r.errors) } : { data: r.data }));
print({ results, batch });
