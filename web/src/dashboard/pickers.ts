// A multi-value filter picker: a disclosure listing the values present in
// the account's data with their session counts, as checkboxes. Values
// chosen earlier (from a link) stay listed even when the range holds none.
import { el } from "../shared/header";

export interface PickerOptions {
  /** The function argument it sets, e.g. desk_ids; names the test id. */
  arg: string;
  label: string;
  onChange(values: string[]): void;
}

const numberFormat = new Intl.NumberFormat("en-US");

export class Picker {
  /** The labelled control to place in the page. */
  readonly root: HTMLElement;
  /** The disclosure that opens the list. */
  readonly details: HTMLDetailsElement;
  private summaryValue: HTMLElement;
  private list: HTMLUListElement;
  private search: HTMLInputElement;
  private empty: HTMLElement;
  private options: { value: string; sessions: number }[] | undefined = [];
  private selected: string[] = [];
  private unavailable = "";

  constructor(private opts: PickerOptions) {
    const id = `picker-${opts.arg}`;
    this.summaryValue = el("span", { class: "picker-value", id: `${id}-value` }, "All");
    this.search = el("input", { type: "search", class: "picker-search", placeholder: "Find a value", "aria-label": `Find ${opts.label.toLowerCase()}` });
    this.list = el("ul", { class: "picker-list" });
    this.empty = el("p", { class: "picker-empty" });
    const clear = el("button", { type: "button", class: "button-quiet" }, "Clear");
    clear.addEventListener("click", () => this.commit([]));
    this.details = el(
      "details",
      { class: "picker", "data-testid": id },
      el("summary", { "aria-labelledby": `${id}-label ${id}-value` }, this.summaryValue),
      el("div", { class: "picker-menu", role: "group", "aria-labelledby": `${id}-label` }, el("div", { class: "picker-tools" }, this.search, clear), this.list, this.empty),
    );
    this.root = el("div", { class: "control" }, el("span", { id: `${id}-label` }, opts.label), this.details);
    this.search.addEventListener("input", () => this.renderList());
    this.list.addEventListener("change", (e) => {
      const box = e.target as HTMLInputElement;
      const next = box.checked ? [...this.selected, box.value] : this.selected.filter((v) => v !== box.value);
      this.commit(next);
    });
  }

  /** setValues lists the values found; undefined while loading, with a reason when they cannot be had. */
  setValues(options: { value: string; sessions: number }[] | undefined, unavailable = ""): void {
    this.options = options;
    this.unavailable = unavailable;
    this.renderList();
  }

  setSelected(values: string[]): void {
    this.selected = [...values];
    this.renderSummary();
    this.renderList();
  }

  private commit(values: string[]) {
    this.setSelected(values);
    this.opts.onChange([...values]);
  }

  private renderSummary() {
    const n = this.selected.length;
    this.summaryValue.textContent = n === 0 ? "All" : n === 1 ? this.selected[0] : `${n} selected`;
    this.details.classList.toggle("picker-active", n > 0);
    this.details.title = n ? this.selected.join("\n") : "";
  }

  private renderList() {
    const known = this.options ?? [];
    const rows = [...known];
    for (const v of this.selected) if (!known.some((o) => o.value === v)) rows.push({ value: v, sessions: 0 });
    const needle = this.search.value.trim().toLowerCase();
    this.search.hidden = rows.length <= 8;
    const shown = needle ? rows.filter((r) => r.value.toLowerCase().includes(needle)) : rows;
    this.list.replaceChildren(
      ...shown.map((r) => {
        const box = el("input", { type: "checkbox", value: r.value });
        box.checked = this.selected.includes(r.value);
        return el(
          "li",
          {},
          el("label", {}, box, el("span", { class: "picker-option" }, r.value), el("span", { class: "picker-count" }, numberFormat.format(r.sessions))),
        );
      }),
    );
    this.empty.textContent =
      this.options === undefined ? "Loading values…" : this.unavailable ? `Values unavailable: ${this.unavailable}` : shown.length ? "" : needle ? "No value matches." : "No values in this range.";
    this.empty.hidden = this.empty.textContent === "";
  }
}

/** manageDisclosures keeps at most one picker open and closes it on Escape or a click elsewhere. */
export function manageDisclosures(pickers: Picker[]): void {
  const all = pickers.map((p) => p.details);
  for (const d of all) {
    d.addEventListener("toggle", () => {
      if (d.open) for (const other of all) if (other !== d) other.open = false;
    });
  }
  document.addEventListener("click", (e) => {
    for (const d of all) if (d.open && !d.contains(e.target as Node)) d.open = false;
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    for (const d of all) {
      if (d.open) {
        d.open = false;
        d.querySelector("summary")?.focus();
      }
    }
  });
}
