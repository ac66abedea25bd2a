// Compute: the loss, the prediction, how far the manual engine is from autograd, and a heat map
// of every parameter's gradient.

import { post } from "./api.js";
import { $, el, figure } from "./dom.js";
import { problemBody, run } from "./problem.js";
import { exponent, heatmap, shapeOf } from "./tensors.js";

const ENGINES = ["autograd", "manual"];
const CONV_AXES = ["output channel", "input channel"]; // of a parameter of 4 axes: conv weights

function deviationRow(name, key, deviation) {
  const agree = deviation.agree;
  return el("tr", { "data-quantity": key },
    el("th", { scope: "row" }, name),
    el("td", { "data-value": String(deviation.max_abs) }, exponent(deviation.max_abs)),
    el("td", { "data-value": String(deviation.max_rel) }, exponent(deviation.max_rel)),
    el("td", { class: agree ? "yes" : "no" }, agree ? "yes" : "no"));
}

function deviationTable(deviation) {
  const body = el("tbody", {},
    deviationRow("loss", "loss", deviation.loss),
    deviationRow("prediction", "prediction", deviation.prediction),
    ...Object.entries(deviation.gradients).map(([name, d]) => deviationRow(`dL/d ${name}`, `gradients.${name}`, d)),
    deviationRow("dL/dx", "input_gradient", deviation.input_gradient));
  const tolerance = deviation.tolerance;
  return el("div", { class: "scroll" }, el("table", { id: "deviations", class: "numbers" },
    el("caption", {}, `The manual engine against autograd (atol ${tolerance.atol}, rtol ${tolerance.rtol})`),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "quantity"),
      el("th", { scope: "col" }, "max |a − b|"),
      el("th", { scope: "col" }, "max relative"),
      el("th", { scope: "col" }, "agree"))),
    body));
}

function renderCompute(answer) {
  const figures = el("dl", { class: "figures" });
  figure(figures, "Loss", answer.loss, "loss-value");
  figure(figures, "Prediction", answer.prediction, "prediction-value");
  figure(figures, "Engines agree", answer.agree ? "yes" : "no", "agree-value");
  figure(figures, "Time", ENGINES.map((e) => `${e} ${answer.engines[e].elapsed_ms.toFixed(2)} ms`).join(", "));
  const maps = Object.entries(answer.gradients).map(([name, g]) =>
    heatmap(name, g, `dL/d ${name}`, shapeOf(g).length === 4 ? CONV_AXES : undefined));
  $("compute-output").replaceChildren(
    figures,
    deviationTable(answer.deviations.manual),
    el("h3", {}, "Gradients (autograd's)"),
    el("div", { class: "scale", "aria-hidden": "true" }, "negative", el("span", { class: "bar" }), "positive"),
    el("div", { class: "heatmaps" }, ...maps));
}

export async function compute(event) {
  event.preventDefault();
  await run($("compute-output"), $("problem-errors"), async () => {
    renderCompute(await post("gradients", problemBody()));
  });
}
