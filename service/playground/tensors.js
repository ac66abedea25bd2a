// Numbers and tensors (nested lists) as text and as heat maps.

import { el } from "./dom.js";

export function exponent(v) {
  return v === 0 ? "0" : v.toExponential(2);
}

export function short(v) {
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

export function vectorText(values) {
  if (!Array.isArray(values)) return short(values);
  if (Array.isArray(values[0])) return values.map(vectorText).join("\n");
  return "[" + values.map(short).join(", ") + "]";
}

function shapeOf(values) {
  const shape = [];
  for (let v = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  return shape;
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
