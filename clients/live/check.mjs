// Subscribes to a running Tally with real clients and reports every result
// they receive, one JSON line each on stdout:
//
//   graphql-ws          the graphql-ws library (subprotocol graphql-transport-ws)
//   apollo-graphql-ws   Apollo Client with GraphQLWsLink over graphql-ws
//   apollo-legacy       Apollo Client with WebSocketLink over
//                       subscriptions-transport-ws (the legacy graphql-ws protocol)
//
// Usage: node check.mjs URL ACCOUNT SECRET RESULTS
// It exits 0 once every client has received RESULTS results, 1 on any
// error, socket failure or after 60 seconds. The Go test that runs it
// writes sessions between results and checks each line.
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';

const require = createRequire(import.meta.url);
const { ApolloClient, InMemoryCache, gql } = require('@apollo/client/core');
const { WebSocketLink } = require('@apollo/client/link/ws');
const { GraphQLWsLink } = require('@apollo/client/link/subscriptions');
const { SubscriptionClient } = require('subscriptions-transport-ws');

const [url, account, secret, wantArg] = process.argv.slice(2);
const want = Number(wantArg);
const wsURL = url.replace(/^http/, 'ws') + '/v1/graphql';
const headers = { 'X-Moveo-Account-Id': account };
if (secret) headers['X-Admin-Secret'] = secret;

const query = `subscription Live($s: timestamp!, $e: timestamp!) {
  rows: open_closed_sessions_interval_counts_v2(args: {start_time: $s, end_time: $e}) {
    per_interval open_sessions closed_sessions
  }
}`;
const variables = { s: '2024-01-08', e: '2024-01-09' };

const counts = {};
const closers = [];
function report(client, result) {
  counts[client] = (counts[client] || 0) + 1;
  process.stdout.write(JSON.stringify({ client, n: counts[client] - 1, result }) + '\n');
  if (Object.keys(counts).length === 3 && Object.values(counts).every((n) => n >= want)) {
    for (const close of closers) close();
    setTimeout(() => process.exit(0), 100);
  }
}
function fail(client, err) {
  const msg = err instanceof Error ? err.message : JSON.stringify(err);
  process.stderr.write(`${client}: ${msg}\n`);
  process.exit(1);
}
setTimeout(() => fail('all', new Error(`timed out with ${JSON.stringify(counts)}`)), 60000).unref();

// graphql-ws: fails by itself unless the server picks graphql-transport-ws.
const gws = createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams: { headers }, retryAttempts: 0 });
closers.push(() => gws.dispose());
gws.subscribe({ query, variables }, {
  next: (r) => report('graphql-ws', r),
  error: (e) => fail('graphql-ws', e),
  complete: () => {},
});

// Apollo Client over graphql-ws.
const apolloWS = createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams: { headers }, retryAttempts: 0 });
closers.push(() => apolloWS.dispose());
const modern = new ApolloClient({ link: new GraphQLWsLink(apolloWS), cache: new InMemoryCache({ addTypename: false }) });
modern.subscribe({ query: gql(query), variables, fetchPolicy: 'no-cache' }).subscribe({
  next: (r) => report('apollo-graphql-ws', { data: r.data }),
  error: (e) => fail('apollo-graphql-ws', e),
});

// Apollo Client's legacy path: WebSocketLink on subscriptions-transport-ws.
const legacyClient = new SubscriptionClient(wsURL, { reconnect: false, connectionParams: { headers } }, WebSocket);
legacyClient.onError((e) => fail('apollo-legacy', e));
closers.push(() => legacyClient.close());
const legacy = new ApolloClient({ link: new WebSocketLink(legacyClient), cache: new InMemoryCache({ addTypename: false }) });
legacy.subscribe({ query: gql(query), variables, fetchPolicy: 'no-cache' }).subscribe({
  next: (r) => report('apollo-legacy', { data: r.data }),
  error: (e) => fail('apollo-legacy', e),
});
