// Small DOM helpers: every element on the page is built with these.

const SVG = "http://www.w3.org/2000/svg";

export const $ = (id) => document.getElementById(id);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A labelled control: `<div class="field"><label for=id>…</label>control</div>`. */
export function field(id, labelChildren, control) {
  const label = el("label", { for: id }, ...labelChildren);
  control.id = id;
  return el("div", { class: "field" }, label, control);
}

/** Text for screen readers only. */
export function hidden(text) {
  return el("span", { class: "sr-only" }, text);
}

/** A term and its value in a `<dl>`; with an id, the exact value is kept in data-value. */
export function figure(list, term, value, id) {
  const dd = el("dd", id ? { id, "data-value": JSON.stringify(value) } : {},
    typeof value === "string" ? value : JSON.stringify(value));
  list.append(el("dt", {}, term), dd);
}
