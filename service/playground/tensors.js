// Numbers and tensors (nested lists) as text and as heat maps.

import { el, hidden } from "./dom.js";

export function exponent(v) {
  return v === 0 ? "0" : v.toExponential(2);
}

export function short(v) {
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

function shapeOf(values) {
  const shape = [];
  for (let v = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  return shape;
}

function shapeText(shape) {
  return shape.length ? `[${shape.join(", ")}]` : "a number";
}

/** A tensor's entries in row-major (torch) order. */
function entries(values) {
  return Array.isArray(values) ? values.flat(Infinity) : [values];
}

/** A tensor's rows along its last axis, each with the indices that lead to it. */
function rowsOf(values, index = []) {
  if (!Array.isArray(values[0])) return [[index, values]];
  return values.flatMap((inner, i) => rowsOf(inner, [...index, i]));
}

// --- a tensor summarised: its shape, its first entries, and the rest on demand ----------------

const PREVIEW_ENTRIES = 4; // the entries shown before "… n more"
const MAX_LISTED_ROWS = 200; // an expanded tensor lists at most this many rows

/** A <details> whose content is built the first time it opens. */
function expandable(summary, build) {
  const details = el("details", {}, el("summary", {}, ...summary));
  details.addEventListener("toggle", () => {
    if (details.open && details.children.length === 1) details.append(build());
  });
  return details;
}

function listing(values) {
  const rows = rowsOf(values);
  const listed = rows.slice(0, MAX_LISTED_ROWS).map(([index, row]) => {
    const lead = index.length ? [el("span", { class: "index" }, `[${index.join(", ")}]`), " "] : [];
    return el("p", {}, ...lead, row.map(short).join(", "));
  });
  if (rows.length > MAX_LISTED_ROWS) {
    listed.push(el("p", { class: "hint" }, `… and ${rows.length - MAX_LISTED_ROWS} more rows`));
  }
  return el("div", { class: "listing" }, ...listed);
}

/**
 * A term and its tensor for a <dl>: the shape and the first entries, and every entry (a row per
 * index of the leading axes) behind a disclosure. The shape and the first entries are kept in
 * data-shape and data-first.
 */
export function tensorEntry(label, values) {
  const shape = shapeOf(values);
  const all = entries(values);
  const first = all.slice(0, PREVIEW_ENTRIES);
  const more = all.length - first.length;
  const dd = el("dd", { class: "tensor", "data-shape": JSON.stringify(shape), "data-first": JSON.stringify(first) },
    el("span", { class: "shape" }, shapeText(shape)), " ",
    el("span", { class: "preview" }, first.map(short).join(", ") + (more ? `, … ${more} more` : "")));
  if (more) dd.append(expandable([hidden(`${label}: `), `all ${all.length} values`], () => listing(values)));
  return [el("dt", {}, label), dd];
}

function colour(t) {
  // t in [−1, 1]: blue through near-white to red
  const [r0, g0, b0] = [247, 247, 247];
  const [r1, g1, b1] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.min(1, Math.abs(t));
  return `rgb(${Math.round(r0 + (r1 - r0) * a)}, ${Math.round(g0 + (g1 - g0) * a)}, ${Math.round(b0 + (b1 - b0) * a)})`;
}

function heatmap(name, values) {
  const matrix = Array.isArray(values[0]) ? values : [values];
  const rows = matrix.length;
  const cols = matrix[0].length;
  const flat = matrix.flat();
  const lowest = flat.reduce((a, b) => Math.min(a, b));
  const highest = flat.reduce((a, b) => Math.max(a, b));
  const largest = Math.max(-lowest, highest) || 1;
  const cell = Math.max(2, Math.min(24, Math.floor(320 / cols), Math.floor(320 / rows)));
  const shape = shapeOf(values).join(" × ");
  const canvas = el("canvas", {
    width: cols * cell,
    height: rows * cell,
    role: "img",
    "data-param": name,
    "aria-label": `dL/d ${name}, ${shape}: from ${short(lowest)} to ${short(highest)}`,
  });
  const context = canvas.getContext("2d");
  matrix.forEach((row, i) => row.forEach((v, j) => {
    context.fillStyle = colour(v / largest);
    context.fillRect(j * cell, i * cell, cell, cell);
  }));
  const probe = el("output", { class: "probe" });
  canvas.addEventListener("mousemove", (event) => {
    const j = Math.floor((event.offsetX * canvas.width) / canvas.clientWidth / cell);
    const i = Math.floor((event.offsetY * canvas.height) / canvas.clientHeight / cell);
    if (i < rows && j < cols) {
      const index = Array.isArray(values[0]) ? `[${i}, ${j}]` : `[${j}]`;
      probe.textContent = `${name}${index} = ${matrix[i][j]}`;
    }
  });
  canvas.addEventListener("mouseleave", () => {
    probe.textContent = "";
  });
  return el("figure", { class: "heatmap" },
    el("div", { class: "scroll" }, canvas),
    el("figcaption", {}, `dL/d ${name}, ${shape}, |g| up to ${exponent(largest)}`),
    probe);
}

/** One map per 2-D slice: a conv weight [out, in, kh, kw] gives one per (out, in) pair. */
export function heatmaps(name, values, index = []) {
  if (shapeOf(values).length <= 2) {
    const label = index.length ? `${name}[${index.join(", ")}]` : name;
    const map = heatmap(label, values);
    if (index.length) map.dataset.slice = index.join(",");
    map.querySelector("canvas").dataset.param = name;
    return [map];
  }
  return values.flatMap((inner, i) => heatmaps(name, inner, [...index, i]));
}
