// Trace: each layer's values on the way forward and back (POST gradients with trace: true).

import { post } from "./api.js";
import { $, el, figure } from "./dom.js";
import { problemBody, run } from "./problem.js";
import { vectorText } from "./tensors.js";

function renderTrace(answer) {
  const cell = (values) => el("td", { class: "vector" }, values === undefined ? "—" : vectorText(values));
  // linear: input → z; an activation: z → a; any other kind: input → output
  const rows = answer.trace.map((step) => el("tr", { "data-layer": step.index },
    el("th", { scope: "row" }, `${step.index}: ${step.type}`),
    cell(step.z ?? step.output),
    cell(step.a),
    cell(step.grad_a),
    cell(step.grad_z ?? step.grad_output)));
  const x = el("dl", { class: "figures" });
  figure(x, "x", vectorText(answer.trace[0].input ?? answer.trace[0].z));
  figure(x, "dL/dx", vectorText(answer.input_gradient));
  $("trace-output").replaceChildren(
    x,
    el("div", { class: "scroll" }, el("table", { id: "trace-table", class: "numbers" },
      el("caption", {}, "The manual engine's values; a linear layer gives z, an activation a = f(z)"),
      el("thead", {}, el("tr", {},
        ...["layer", "z", "a", "dL/da", "dL/dz"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows))));
}

export async function trace() {
  await run($("trace-output"), $("problem-errors"), async () => {
    renderTrace(await post("gradients", { ...problemBody(), trace: true }));
  });
}
