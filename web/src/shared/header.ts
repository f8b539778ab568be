// The header both pages share: the Tally name, links to the two pages, the
// credential fields and a slot for the page's own status.
import { saveCredentials, type Credentials } from "./credentials";

export interface HeaderOptions {
  page: "console" | "dashboard";
  credentials: Credentials;
  /** Shows that requests need an API key or the admin secret. */
  adminSecretRequired?: boolean;
  /** Called with the new credentials once the user stops typing. */
  onCredentials(c: Credentials): void;
}

/** el builds an element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/**
 * mountHeader fills the page's <header> and returns the element where the
 * page shows its status.
 */
export function mountHeader(header: HTMLElement, opts: HeaderOptions): HTMLElement {
  const link = (page: HeaderOptions["page"], text: string) =>
    el("a", page === opts.page ? { href: page, "aria-current": "page" } : { href: page }, text);
  const creds = { ...opts.credentials };
  const field = (key: keyof Credentials, label: string, attrs: Record<string, string>) => {
    const input = el("input", { ...attrs, id: `cred-${key}`, name: key, autocomplete: "off", spellcheck: "false", "data-testid": `credential-${key}` });
    input.value = creds[key];
    let timer: number | undefined;
    const commit = () => {
      window.clearTimeout(timer);
      if (creds[key] === input.value) return;
      creds[key] = input.value;
      saveCredentials(creds);
      opts.onCredentials({ ...creds });
    };
    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(commit, 600);
    });
    input.addEventListener("change", commit);
    return el("label", { class: `cred cred-${key}` }, el("span", {}, label), input);
  };
  const status = el("div", { class: "page-status", role: "status", "aria-live": "polite" });
  const hint = opts.adminSecretRequired ? "requests need an API key or the admin secret" : "";
  header.replaceChildren(
    el("a", { class: "brand", href: "dashboard" }, el("span", { class: "brand-mark", "aria-hidden": "true" }), "Tally"),
    el("nav", { "aria-label": "Pages" }, link("dashboard", "Dashboard"), link("console", "Console")),
    el(
      "form",
      { class: "credentials", "aria-label": "Credentials", title: hint },
      field("accountId", "Account", { placeholder: "account UUID", size: "36", "aria-describedby": "cred-help" }),
      field("apiKey", "API key", { type: "password", placeholder: opts.adminSecretRequired ? "required" : "optional" }),
      field("adminSecret", "Admin secret", { type: "password", placeholder: "optional" }),
      el("span", { id: "cred-help", class: "visually-hidden" }, "Sent as X-Moveo-Account-Id; the API key as Authorization: apikey; the admin secret as X-Admin-Secret."),
    ),
    status,
  );
  header.querySelector("form")!.addEventListener("submit", (e) => e.preventDefault());
  return status;
}
