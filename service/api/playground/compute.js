// Compute: the loss, the prediction, how far each engine is from autograd, and a heat map of
// every parameter's gradient, its entries at a kink (where a derivative is not defined) outlined.

import { post } from "./api.js";
import { $, el, figure } from "./dom.js";
import { problemBody, run } from "./problem.js";
import { exponent, heatmap, shapeOf } from "./tensors.js";

const CONV_AXES = ["output channel", "input channel"]; // of a parameter of 4 axes: conv weights

/** The kinks of an engine's deviation, by quantity: a Map of name → kinks. */
function kinksByQuantity(deviation) {
  const found = new Map();
  for (const kink of deviation.kinks) {
    if (!found.has(kink.quantity)) found.set(kink.quantity, []);
    found.get(kink.quantity).push(kink);
  }
  return found;
}

function deviationRow(name, key, deviation, kinks = []) {
  const agree = deviation.agree;
  const why = [...new Set(kinks.map((k) => k.why))].join("; ");
  return el("tr", { "data-quantity": key },
    el("th", { scope: "row" }, name),
    el("td", { "data-value": String(deviation.max_abs) }, exponent(deviation.max_abs)),
    el("td", { "data-value": String(deviation.max_rel) }, exponent(deviation.max_rel)),
    el("td", { class: agree ? "yes" : "no" }, agree ? "yes" : "no"),
    el("td", { class: "kinks", "data-kinks": String(kinks.length), title: why }, kinks.length ? `${kinks.length} at kinks` : ""));
}

function deviationTable(engine, deviation) {
  const kinks = kinksByQuantity(deviation);
  const body = el("tbody", {},
    deviationRow("loss", "loss", deviation.loss),
    deviationRow("prediction", "prediction", deviation.prediction),
    ...Object.entries(deviation.gradients).map(([name, d]) =>
      deviationRow(`dL/d ${name}`, `gradients.${name}`, d, kinks.get(name))),
    deviationRow("dL/dx", "input_gradient", deviation.input_gradient, kinks.get("input_gradient")));
  const tolerance = deviation.tolerance;
  const parts = [el("table", { id: `deviations-${engine}`, class: "numbers deviations", "data-engine": engine },
    el("caption", {}, `The ${engine} engine against autograd (atol ${tolerance.atol}, rtol ${tolerance.rtol})`),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "quantity"),
      el("th", { scope: "col" }, "max |a − b|"),
      el("th", { scope: "col" }, "max relative"),
      el("th", { scope: "col" }, "agree"),
      el("th", { scope: "col" }, "left out"))),
    body)];
  if (deviation.kink_count) {
    const why = [...new Set(deviation.kinks.map((k) => k.why))];
    parts.push(el("p", { class: "hint kink-note" },
      `${deviation.kink_count} entries left out: they sit at a kink, where the derivative is not defined `
      + `(outlined in the maps). ${why.join("; ")}.`));
  }
  return el("div", { class: "scroll" }, ...parts);
}

function renderCompute(answer) {
  const figures = el("dl", { class: "figures" });
  figure(figures, "Loss", answer.loss, "loss-value");
  figure(figures, "Prediction", answer.prediction, "prediction-value");
  figure(figures, "Engines agree", answer.agree ? "yes" : "no", "agree-value");
  figure(figures, "Time", Object.entries(answer.engines).map(([e, out]) => `${e} ${out.elapsed_ms.toFixed(2)} ms`).join(", "));
  const marked = new Map(); // quantity → the index of each entry at a kink, "i,j"
  for (const deviation of Object.values(answer.deviations)) {
    for (const kink of deviation.kinks) {
      if (!marked.has(kink.quantity)) marked.set(kink.quantity, new Set());
      marked.get(kink.quantity).add(kink.index.join(","));
    }
  }
  const maps = Object.entries(answer.gradients).map(([name, g]) =>
    heatmap(name, g, `dL/d ${name}`, shapeOf(g).length === 4 ? CONV_AXES : undefined, marked.get(name)));
  $("compute-output").replaceChildren(
    figures,
    ...Object.entries(answer.deviations).map(([engine, d]) => deviationTable(engine, d)),
    el("h3", {}, "Gradients (autograd's)"),
    el("div", { class: "scale", "aria-hidden": "true" }, "negative", el("span", { class: "bar" }), "positive"),
    el("div", { class: "heatmaps" }, ...maps));
}

export async function compute(event) {
  event.preventDefault();
  await run($("compute-output"), $("problem-errors"), async () => {
    const numeric = $("numeric").checked ? { engines: ["autograd", "manual", "numeric"] } : {};
    renderCompute(await post("gradients", { ...problemBody(), ...numeric }));
  });
}
