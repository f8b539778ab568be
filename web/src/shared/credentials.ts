// Credentials the pages send with every request, HTTP and WebSocket alike,
// under the header names of docs/auth.md.

/** Who the pages act as. Empty strings mean "not sent". */
export interface Credentials {
  accountId: string;
  apiKey: string;
  adminSecret: string;
}

/**
 * credentialHeaders turns credentials into request headers:
 * X-Moveo-Account-Id, Authorization: apikey <key> and X-Admin-Secret, each
 * only when set. Values are trimmed.
 */
export function credentialHeaders(c: Credentials): Record<string, string> {
  const h: Record<string, string> = {};
  if (c.accountId.trim()) h["X-Moveo-Account-Id"] = c.accountId.trim();
  if (c.apiKey.trim()) h["Authorization"] = `apikey ${c.apiKey.trim()}`;
  if (c.adminSecret.trim()) h["X-Admin-Secret"] = c.adminSecret.trim();
  return h;
}

const accountKey = "tally.accountId";
const apiKeyKey = "tally.apiKey";
const secretKey = "tally.adminSecret";

/**
 * loadCredentials picks the account id from, in order, the page URL's
 * `account` parameter, the id the user last typed (localStorage) and the
 * server's default. The API key and admin secret live only in
 * sessionStorage: they survive a reload but not the closing of the tab, and
 * never appear in a URL.
 */
export function loadCredentials(defaultAccount: string | undefined, url: URL = new URL(location.href)): Credentials {
  return {
    accountId: url.searchParams.get("account") ?? safeGet(localStorage, accountKey) ?? defaultAccount ?? "",
    apiKey: safeGet(sessionStorage, apiKeyKey) ?? "",
    adminSecret: safeGet(sessionStorage, secretKey) ?? "",
  };
}

/** saveCredentials stores what loadCredentials reads back. */
export function saveCredentials(c: Credentials): void {
  safeSet(localStorage, accountKey, c.accountId);
  safeSet(sessionStorage, apiKeyKey, c.apiKey);
  safeSet(sessionStorage, secretKey, c.adminSecret);
}

// Storage can throw (disabled cookies, private modes); the pages then simply
// do not remember.
function safeGet(s: Storage, key: string): string | null {
  try {
    return s.getItem(key);
  } catch {
    return null;
  }
}

function safeSet(s: Storage, key: string, value: string): void {
  try {
    if (value) s.setItem(key, value);
    else s.removeItem(key);
  } catch {
    /* not remembered */
  }
}
