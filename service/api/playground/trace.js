// Trace: the manual engine's values, layer by layer, on the way forward and back (POST gradients
// with trace: true). Each layer is a card; each tensor is summarised (shape, first entries) with
// every entry one click away, so that the cards fit any width.

import { post } from "./api.js";
import { $, el } from "./dom.js";
import { problemBody, run } from "./problem.js";
import { tensorEntry } from "./tensors.js";

// A step's tensors in the order each pass meets them: a linear layer has input → z and
// dL/dz → dL/dinput, an activation z → a and dL/da → dL/dz, any other kind input → output and
// dL/doutput → dL/dinput.
const FORWARD = ["input", "z", "a", "output"];
const BACKWARD = ["grad_a", "grad_output", "grad_z", "grad_input"];

function label(key) {
  return key.startsWith("grad_") ? `dL/d${key.slice("grad_".length)}` : key;
}

/** One pass of one layer: a titled list of its tensors, named by `keys` in `tensors`. */
function pass(title, kind, tensors, keys) {
  const list = el("dl", { class: "tensors" });
  for (const key of keys) {
    if (tensors[key] !== undefined) list.append(...tensorEntry(label(key), tensors[key]));
  }
  return el("section", { class: "pass", "data-pass": kind }, el("h4", {}, title), list);
}

function stepCard(step) {
  const passes = [pass("Forward", "forward", step, FORWARD), pass("Backward", "backward", step, BACKWARD)];
  if (step.values) {
    const kept = Object.keys(step.values);
    passes.push(pass("Kept for the backward pass", "kept", step.values, kept));
  }
  return el("li", { class: "step", "data-layer": step.index, "data-type": step.type },
    el("h3", {}, `Layer ${step.index} `, el("code", { class: "kind" }, step.type)),
    el("div", { class: "passes" }, ...passes));
}

function inputCard(answer) {
  const first = answer.trace[0];
  const tensors = { x: first.input ?? first.z, "dL/dx": answer.input_gradient };
  return el("li", { class: "step", "data-layer": "input" },
    el("h3", {}, "The input"),
    el("div", { class: "passes" },
      pass("Forward", "forward", tensors, ["x"]),
      pass("Backward", "backward", tensors, ["dL/dx"])));
}

function renderTrace(answer) {
  $("trace-output").replaceChildren(
    el("p", { class: "hint" }, "The manual engine's values. Forward runs down from x to the "
      + "prediction; backward runs up from the loss, each layer's dL/dinput the dL/doutput of the "
      + "one before. An image [C, H, W] is drawn as a map per channel, a batch of them "
      + "[N, C, H, W] as a row per sample: hover a map for its values."),
    el("ol", { class: "steps", id: "trace-steps" }, inputCard(answer), ...answer.trace.map(stepCard)));
}

export async function trace() {
  await run($("trace-output"), $("problem-errors"), async () => {
    renderTrace(await post("gradients", { ...problemBody(), trace: true }));
  });
}
