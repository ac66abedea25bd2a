// Numbers and tensors (nested lists) as text and as heat maps.

import { el, hidden } from "./dom.js";

export function exponent(v) {
  return v === 0 ? "0" : v.toExponential(2);
}

export function short(v) {
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

export function shapeOf(values) {
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
 * A term and its tensor for a <dl>: the shape and the first entries, a small heat map per channel
 * of an image or a batch of them (3 or 4 axes), and every entry (a row per index of the leading
 * axes) behind a disclosure. The shape and the first entries are kept in data-shape and data-first.
 */
export function tensorEntry(label, values) {
  const shape = shapeOf(values);
  const all = entries(values);
  const first = all.slice(0, PREVIEW_ENTRIES);
  const more = all.length - first.length;
  const dd = el("dd", { class: "tensor", "data-shape": JSON.stringify(shape), "data-first": JSON.stringify(first) },
    el("span", { class: "shape" }, shapeText(shape)), " ",
    el("span", { class: "preview" }, first.map(short).join(", ") + (more ? `, … ${more} more` : "")));
  if (shape.length === 3 || shape.length === 4) {
    const probe = el("output", { class: "probe" });
    dd.append(sliceGrid(label, values, probe), probe);
  }
  if (more) dd.append(expandable([hidden(`${label}: `), `all ${all.length} values`], () => listing(values)));
  return [el("dt", {}, label), dd];
}

// --- heat maps --------------------------------------------------------------------------------

const MAP_SIZE = 320; // px across a whole map, at most
const SLICE_SIZE = 96; // px across each small map of a tensor of 3 or 4 axes, at most
const MAX_SLICES = 32; // small maps drawn for one tensor, at most

function colour(t) {
  // t in [−1, 1]: blue through near-white to red
  const [r0, g0, b0] = [247, 247, 247];
  const [r1, g1, b1] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.min(1, Math.abs(t));
  return `rgb(${Math.round(r0 + (r1 - r0) * a)}, ${Math.round(g0 + (g1 - g0) * a)}, ${Math.round(b0 + (b1 - b0) * a)})`;
}

function largestOf(values) {
  return entries(values).reduce((top, v) => Math.max(top, Math.abs(v)), 0);
}

/**
 * A canvas of a vector (one row) or a matrix, blue (negative) to red (positive) on the scale
 * ±largest, at most `size` px across. Hovering a cell writes "name[index] = value" into `probe`,
 * the index being `lead` (a slice's leading indices) then the cell's.
 */
function mapCanvas(name, values, { lead = [], largest, size, probe, marks = new Set() }) {
  const matrix = Array.isArray(values[0]) ? values : [values];
  const [rows, cols] = [matrix.length, matrix[0].length];
  const cell = Math.max(2, Math.min(24, Math.floor(size / cols), Math.floor(size / rows)));
  const all = matrix.flat();
  const [lowest, highest] = [all.reduce((a, b) => Math.min(a, b)), all.reduce((a, b) => Math.max(a, b))];
  const canvas = el("canvas", {
    width: cols * cell,
    height: rows * cell,
    role: "img",
    "data-param": name,
    "aria-label": `${name}${lead.length ? `[${lead.join(", ")}]` : ""}: `
      + `from ${short(lowest)} to ${short(highest)}`,
  });
  const context = canvas.getContext("2d");
  const indexOf = (i, j) => [...lead, ...(matrix === values ? [i, j] : [j])];
  let outlined = 0;
  matrix.forEach((row, i) => row.forEach((v, j) => {
    context.fillStyle = colour(largest ? v / largest : 0);
    context.fillRect(j * cell, i * cell, cell, cell);
    if (marks.has(indexOf(i, j).join(","))) { // at a kink: outlined
      context.strokeStyle = "#111";
      context.lineWidth = Math.max(1, Math.floor(cell / 8));
      context.strokeRect(j * cell + 1, i * cell + 1, cell - 2, cell - 2);
      outlined += 1;
    }
  }));
  canvas.dataset.kinks = String(outlined);
  canvas.addEventListener("mousemove", (event) => {
    const i = Math.floor((event.offsetY / canvas.clientHeight) * rows);
    const j = Math.floor((event.offsetX / canvas.clientWidth) * cols);
    if (i < rows && j < cols) {
      const index = indexOf(i, j);
      const kink = marks.has(index.join(",")) ? " (at a kink)" : "";
      probe.textContent = `${name}[${index.join(", ")}] = ${matrix[i][j]}${kink}`;
    }
  });
  canvas.addEventListener("mouseleave", () => {
    probe.textContent = "";
  });
  return canvas;
}

/**
 * A tensor of 3 or 4 axes as small maps of its last two axes on one colour scale: a row of maps,
 * one per index of the first axis (an image [C, H, W]: a map per channel), or a row per index of
 * the first axis and a map per index of the second (conv weights [out, in, kh, kw], a batch of
 * images [N, C, H, W]). Each map's figure has its leading indices in data-slice.
 */
function sliceGrid(name, values, probe, marks) {
  const largest = largestOf(values);
  const rows = shapeOf(values).length === 3
    ? [values.map((matrix, c) => [[c], matrix])]
    : values.map((inner, i) => inner.map((matrix, j) => [[i, j], matrix]));
  const total = rows.reduce((count, row) => count + row.length, 0);
  const shown = [];
  let drawn = 0;
  for (const row of rows) {
    if (drawn === MAX_SLICES) break;
    const maps = row.slice(0, MAX_SLICES - drawn).map(([lead, matrix]) => el("figure",
      { class: "slice", "data-slice": lead.join(",") },
      mapCanvas(name, matrix, { lead, largest, size: SLICE_SIZE, probe, marks }),
      el("figcaption", {}, `[${lead.join(", ")}]`)));
    drawn += maps.length;
    shown.push(el("div", { class: "slice-row" }, ...maps));
  }
  if (total > drawn) shown.push(el("p", { class: "hint" }, `The first ${drawn} of ${total} maps.`));
  return el("div", { class: "slices" }, ...shown);
}

function axesNote(ndim, axes) {
  return ndim === 3 ? `a map per ${axes[0]}` : `a row per ${axes[0]}, a map per ${axes[1]}`;
}

/**
 * A heat map of a tensor `name` (hover a cell for its value): one map of a vector or a matrix;
 * small maps of the last two axes of a tensor of 3 or 4, `axes` naming the leading ones. The
 * entries in `marks` ("i,j" index strings) are outlined: they sit at a kink.
 */
export function heatmap(name, values, title, axes = ["index of the first axis", "index of the second"], marks = new Set()) {
  const shape = shapeOf(values);
  const largest = largestOf(values);
  const probe = el("output", { class: "probe" });
  const picture = shape.length <= 2
    ? mapCanvas(name, values, { largest, size: MAP_SIZE, probe, marks })
    : sliceGrid(name, values, probe, marks);
  const note = shape.length > 2 ? `: ${axesNote(shape.length, axes)}` : "";
  return el("figure", { class: "heatmap", "data-param": name },
    picture,
    el("figcaption", {}, `${title}, ${shapeText(shape)}, |values| up to ${exponent(largest)}${note}`),
    probe);
}
