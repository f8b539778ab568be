// The pages' GraphQL client: POST /v1/graphql and graphql-ws subscriptions
// on the same path, both relative to the page so that the pages work
// wherever the server mounts them.
import { createClient, type Client } from "graphql-ws";

/** The HTTP endpoint, resolved against the page's URL. */
export function graphqlURL(base: string = document.baseURI): string {
  return new URL("v1/graphql", base).href;
}

/** The WebSocket endpoint: the HTTP endpoint with ws: or wss:. */
export function websocketURL(base: string = document.baseURI): string {
  const u = new URL(graphqlURL(base));
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.href;
}

/** One error of a GraphQL response, as Hasura and Tally send it. */
export interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; path?: string };
}

/**
 * GraphQLRequestError is a request that failed: the server's GraphQL errors
 * (their messages joined), or an HTTP or network failure described in words.
 */
export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly errors: GraphQLErrorBody[] = [],
  ) {
    super(message);
    this.name = "GraphQLRequestError";
  }
}

/** errorFromBodies makes one error from a response's errors array. */
export function errorFromBodies(errors: GraphQLErrorBody[]): GraphQLRequestError {
  const message = errors.map((e) => (e.extensions?.code ? `${e.message} (${e.extensions.code})` : e.message)).join("; ");
  return new GraphQLRequestError(message || "the server answered with an empty error", errors);
}

/**
 * request POSTs one operation and returns its data, or throws a
 * GraphQLRequestError carrying the server's error messages.
 */
export async function request<T>(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(graphqlURL(), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new GraphQLRequestError(`cannot reach the server: ${(e as Error).message}`);
  }
  const text = await res.text();
  let body: { data?: T; errors?: GraphQLErrorBody[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new GraphQLRequestError(`HTTP ${res.status} from ${graphqlURL()}: ${text.slice(0, 200) || res.statusText}`);
  }
  if (body.errors?.length) throw errorFromBodies(body.errors);
  if (!res.ok || body.data === undefined) {
    throw new GraphQLRequestError(`HTTP ${res.status} from ${graphqlURL()} without data`);
  }
  return body.data;
}

/**
 * wsClient opens a graphql-ws client (subprotocol graphql-transport-ws) that
 * sends the headers in connection_init's payload, as Tally and Hasura
 * expect: {"headers": {...}}. It connects on the first subscription and
 * does not retry by itself: callers decide what a lost socket means.
 */
export function wsClient(headers: Record<string, string>, on?: { connected?(): void; closed?(e: unknown): void }): Client {
  return createClient({
    url: websocketURL(),
    connectionParams: { headers },
    lazy: true,
    retryAttempts: 0,
    on: { connected: () => on?.connected?.(), closed: (e) => on?.closed?.(e) },
  });
}

/** describeSocketError words what graphql-ws reports when a socket fails. */
export function describeSocketError(e: unknown): string {
  if (Array.isArray(e)) return errorFromBodies(e as GraphQLErrorBody[]).message;
  if (e && typeof e === "object" && "code" in e && "reason" in e) {
    const c = e as { code: number; reason: string };
    return `WebSocket closed (${c.code}${c.reason ? `: ${c.reason}` : ""})`;
  }
  if (e instanceof Error) return e.message;
  if (e && typeof e === "object" && "type" in e) return "WebSocket connection failed";
  return String(e);
}
