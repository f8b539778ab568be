// GraphiQL's fetcher for Tally: queries and introspection over HTTP POST,
// subscriptions over graphql-ws, the page's credential headers on both.
import { createGraphiQLFetcher, type Fetcher, type FetcherOpts, type FetcherParams } from "@graphiql/toolkit";
import { getOperationAST, parse } from "graphql";
import type { Client } from "graphql-ws";
import { describeSocketError, graphqlURL, wsClient } from "../shared/graphql";

/**
 * isSubscription tells whether the operation GraphiQL runs is a
 * subscription. It parses the text sent rather than trusting GraphiQL's
 * documentAST, which lags behind the editor by a keystroke debounce; text
 * that does not parse goes over HTTP, where the server names the error.
 */
export function isSubscription(query: string, operationName?: string | null): boolean {
  try {
    return getOperationAST(parse(query), operationName ?? undefined)?.operation === "subscription";
  } catch {
    return false;
  }
}

/**
 * tallyFetcher sends `credentials` with every request; headers typed in
 * GraphiQL's headers editor override them. A subscription opens a WebSocket
 * whose connection_init carries the same headers; sockets are shared while
 * the headers stay the same, until dispose.
 */
export function tallyFetcher(credentials: Record<string, string>): Fetcher & { dispose(): void } {
  const http = createGraphiQLFetcher({ url: graphqlURL(), enableIncrementalDelivery: false });
  let socket: { key: string; client: Client } | undefined;
  const clientFor = (headers: Record<string, string>) => {
    const key = JSON.stringify(headers);
    if (socket?.key !== key) {
      void socket?.client.dispose();
      socket = { key, client: wsClient(headers) };
    }
    return socket.client;
  };
  const fetcher = (params: FetcherParams, opts?: FetcherOpts) => {
    const headers = { ...credentials, ...(opts?.headers ?? {}) };
    if (isSubscription(params.query, params.operationName)) {
      return subscribe(clientFor(headers), params);
    }
    return http(params, { ...opts, headers });
  };
  // dispose closes the socket when the page replaces this fetcher.
  return Object.assign(fetcher, { dispose: () => void socket?.client.dispose() });
}

// subscribe yields each result; a socket or GraphQL failure becomes an
// errors result, which GraphiQL shows in the response pane.
async function* subscribe(client: Client, params: FetcherParams) {
  try {
    for await (const result of client.iterate({
      query: params.query,
      operationName: params.operationName ?? undefined,
      variables: params.variables ?? undefined,
    })) {
      yield result;
    }
  } catch (e) {
    yield { errors: [{ message: `subscription failed: ${describeSocketError(e)}` }] };
  }
}
