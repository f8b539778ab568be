// Keeping a query's answer current: a graphql-ws subscription of the same
// operation when the server offers one, polling over HTTP while it does
// not, and the mode in force reported to the page.
import type { Client } from "graphql-ws";
import { describeSocketError, errorFromBodies, request, wsClient, type GraphQLErrorBody } from "../shared/graphql";

/** How the answer is kept current. */
export type LiveMode = "connecting" | "live" | "polling" | "paused";

export interface LiveOptions<T> {
  query: string;
  subscription: string;
  variables: Record<string, unknown>;
  headers: Record<string, string>;
  /** False: fetch once, no updates. */
  live: boolean;
  pollMs: number;
  /** How long to poll before trying the socket again. */
  retrySocketMs: number;
  onData(data: T): void;
  onError(e: Error): void;
  onMode(mode: LiveMode, detail: string): void;
}

/**
 * LiveQuery runs one operation until stop: it fetches over HTTP at once (a
 * fast first answer with the server's own error messages), then subscribes.
 * When the socket cannot be opened, is closed, or the server refuses the
 * subscription, it polls every pollMs and tries the socket again after
 * retrySocketMs; the first result over the socket ends the polling.
 */
export class LiveQuery<T> {
  private stopped = false;
  private client: Client | undefined;
  private pollTimer: number | undefined;
  private retryTimer: number | undefined;
  private inFlight: AbortController | undefined;

  constructor(private o: LiveOptions<T>) {}

  start(): void {
    void this.fetchOnce();
    if (!this.o.live) {
      this.o.onMode("paused", "live updates are paused");
      return;
    }
    this.subscribe();
  }

  stop(): void {
    this.stopped = true;
    this.inFlight?.abort();
    window.clearInterval(this.pollTimer);
    window.clearTimeout(this.retryTimer);
    void this.client?.dispose();
  }

  /** refresh fetches over HTTP now, whatever the mode. */
  refresh(): void {
    void this.fetchOnce();
  }

  private async fetchOnce() {
    if (this.stopped || this.inFlight) return;
    const ctl = new AbortController();
    this.inFlight = ctl;
    try {
      const data = await request<T>(this.o.query, this.o.variables, this.o.headers, ctl.signal);
      if (!this.stopped) this.o.onData(data);
    } catch (e) {
      if (!this.stopped && (e as Error).name !== "AbortError") this.o.onError(e as Error);
    } finally {
      if (this.inFlight === ctl) this.inFlight = undefined;
    }
  }

  private subscribe() {
    if (this.pollTimer === undefined) this.o.onMode("connecting", "opening the WebSocket");
    let failed = false;
    const fail = (reason: unknown) => {
      if (failed || this.stopped) return;
      failed = true;
      this.socketFailed(describeSocketError(reason));
    };
    const client = wsClient(this.o.headers, { closed: (e) => fail(e) });
    this.client = client;
    client.subscribe<T>(
      { query: this.o.subscription, variables: this.o.variables },
      {
        next: (result) => {
          if (this.stopped) return;
          if (result.errors?.length) {
            this.o.onError(errorFromBodies(result.errors as GraphQLErrorBody[]));
            return;
          }
          window.clearInterval(this.pollTimer);
          this.pollTimer = undefined;
          this.o.onMode("live", "updates arrive over the WebSocket as sessions change");
          if (result.data) this.o.onData(result.data);
        },
        error: (e) => fail(e),
        complete: () => fail("the server ended the subscription"),
      },
    );
  }

  private socketFailed(reason: string) {
    void this.client?.dispose();
    this.client = undefined;
    if (this.pollTimer === undefined) {
      this.pollTimer = window.setInterval(() => {
        if (!document.hidden) void this.fetchOnce();
      }, this.o.pollMs);
    }
    this.o.onMode("polling", `polling every ${Math.round(this.o.pollMs / 1000)} s: ${reason}`);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      if (!this.stopped) this.subscribe();
    }, this.o.retrySocketMs);
  }
}
