// Checks a running Tally with graphql-js, the reference implementation:
// fetch the introspection query with every option GraphiQL can turn on, rebuild the schema with
// buildClientSchema, print it, validate the given documents against it,
// and run them. Usage: node check.mjs URL ACCOUNT DOCUMENTS.json
// DOCUMENTS.json maps a name to {"query": ..., "variables": ...}.
// Prints one JSON object: {sdl, roots, validation: {name: [errors]},
// results: {name: response}}.
import { readFileSync } from "node:fs";
import { buildClientSchema, getIntrospectionQuery, parse, printSchema, validate } from "graphql";

const [url, account, docsPath] = process.argv.slice(2);
const headers = { "Content-Type": "application/json", "X-Moveo-Account-Id": account };

async function post(body) {
  const res = await fetch(url + "/v1/graphql", { method: "POST", headers, body: JSON.stringify(body) });
  return res.json();
}

const intro = await post({ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true }) });
if (intro.errors) {
  console.log(JSON.stringify({ introspectionErrors: intro.errors }));
  process.exit(1);
}
const schema = buildClientSchema(intro.data);
const roots = {};
for (const root of [schema.getQueryType(), schema.getSubscriptionType()]) {
  if (!root) continue;
  roots[root.name] = Object.values(root.getFields()).map((f) => ({
    name: f.name,
    type: String(f.type),
    description: f.description,
    args: f.args.map((a) => ({ name: a.name, type: String(a.type), description: a.description })),
  }));
}
const docs = JSON.parse(readFileSync(docsPath, "utf8"));
const validation = {};
const results = {};
for (const [name, doc] of Object.entries(docs)) {
  validation[name] = validate(schema, parse(doc.query)).map((e) => e.message);
  results[name] = await post(doc);
}
console.log(JSON.stringify({ sdl: printSchema(schema), roots, validation, results }));
