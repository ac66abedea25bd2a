// The problem form: the layers (layers.js), the weights, x, y and the loss; the request bodies
// built from them; and how a failed request is shown on the form.

import { ApiError } from "./api.js";
import { $, el } from "./dom.js";
import { clearKeyProblem, showKeyProblem } from "./key.js";
import { clearLayerErrors, layersBody, optionControl, setLayers, showLayerError } from "./layers.js";

// Every loss and its options, [name, label, form, default] as a layer kind's in layers.js. A loss
// with options is sent as an object ({"type": "huber", "delta": 0.5}), one without as its name.
const LOSSES = {
  sse: [],
  mse: [],
  cross_entropy: [],
  bce_with_logits: [],
  nll: [],
  l1: [],
  smooth_l1: [["beta", "beta", "number", 1]],
  huber: [["delta", "delta", "number", 1]],
  multi_margin: [["margin", "margin", "number", 1], ["p", "p", [1, 2], 1]],
};

// The control of each field of the request body an error's loc may name.
const CONTROLS = {
  x: "x", y: "y", weights: "weights", init_seed: "init-seed", dropout_seed: "dropout-seed",
  loss: "loss", dtype: "dtype",
};

let loss = { type: "sse" }; // the loss being edited: its type and its options

/** A value on the form that cannot be sent: `id` names its control. */
export class InputError extends Error {
  constructor(id, message) {
    super(message);
    this.id = id;
  }
}

// --- errors -----------------------------------------------------------------------------------

function where(loc) {
  const path = loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc;
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : (i ? "." : "") + part)).join("");
}

/** Mark the control a loc names ("body", then a field of the body and perhaps a loss option). */
function markControl(loc) {
  if (loc[0] !== "body") return;
  const id = loc[1] === "loss" && typeof loc[2] === "string" ? `loss-${loc[2]}` : CONTROLS[loc[1]];
  const control = id && $(id);
  if (control) control.setAttribute("aria-invalid", "true");
}

function showError(container, error) {
  const list = el("ul");
  if (error instanceof ApiError) {
    for (const item of error.detail) {
      list.append(el("li", {}, el("code", {}, where(item.loc) || "body"), ": " + item.msg));
      if (!showLayerError(item)) markControl(item.loc);
    }
    if (error.unauthorized) {
      showKeyProblem();
      $("api-key").focus();
    }
  } else {
    list.append(el("li", {}, error.message));
  }
  if (error instanceof InputError) {
    const input = $(error.id);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  container.replaceChildren(el("div", { class: "errors", role: "alert" }, list));
}

/** Before a request: the marks of the last one's errors go (the key's stay until a call works,
 * an unreadable option's until it is edited). */
function clearInvalid() {
  for (const node of document.querySelectorAll("[aria-invalid]:not(#api-key):not([data-unreadable])")) {
    node.removeAttribute("aria-invalid");
  }
  clearLayerErrors();
  $("problem-errors").replaceChildren();
}

/** Run `work`, marking `output` busy, then done or failed (errors shown in `errors`). */
export async function run(output, errors, work) {
  clearInvalid();
  output.dataset.state = "busy";
  output.setAttribute("aria-busy", "true");
  try {
    await work();
    clearKeyProblem();
    output.dataset.state = "done";
  } catch (error) {
    showError(errors, error);
    output.dataset.state = "error";
  } finally {
    output.removeAttribute("aria-busy");
  }
}

// --- reading the form -------------------------------------------------------------------------

export function parseJson(id, name) {
  const text = $(id).value.trim();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(id, `${name} is not valid JSON: ${error.message}`);
  }
}

export function parseInteger(id, name) {
  const text = $(id).value.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InputError(id, `${name} must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return value;
}

export function parsePositive(id, name) {
  const value = Number($(id).value.trim());
  if (!Number.isFinite(value) || value <= 0) throw new InputError(id, `${name} must be a number above 0`);
  return value;
}

/** The first option (of a layer or the loss) whose text cannot be read, as an error. */
function rejectUnreadable() {
  const control = $("problem").querySelector("[data-unreadable]");
  if (control) throw new InputError(control.id, control.dataset.unreadable);
}

function weightsSource() {
  return document.querySelector('input[name="weights-source"]:checked').value;
}

export function showWeightsSource() {
  const pasted = weightsSource() === "paste";
  $("weights-field").hidden = !pasted;
  $("init-seed-field").hidden = pasted;
}

/** The loss, a name or an object with options: its menu and the controls of its options. */
export function setLoss(value) {
  const given = typeof value === "string" ? { type: value } : value;
  loss = { type: given.type };
  for (const [name, , , fallback] of LOSSES[given.type]) loss[name] = given[name] ?? fallback;
  $("loss").value = loss.type;
  $("loss-options").replaceChildren(
    ...LOSSES[loss.type].map((option) => optionControl(loss, "loss", "Loss ", option)));
}

function lossBody() {
  return LOSSES[loss.type].length ? structuredClone(loss) : loss.type;
}

/** The network, its weights, the loss, the dtype and the dropout seed: what every request
 * starts from. */
export function networkBody() {
  rejectUnreadable();
  const body = {
    network: { layers: layersBody() },
    loss: lossBody(),
    dtype: $("dtype").value,
    dropout_seed: parseInteger("dropout-seed", "Dropout seed"),
  };
  if (weightsSource() === "paste") body.weights = parseJson("weights", "Weights");
  else body.init_seed = parseInteger("init-seed", "Init seed");
  return body;
}

/** The whole problem: a POST /gradients body. */
export function problemBody() {
  const body = networkBody();
  body.x = parseJson("x", "x");
  if ($("y").value.trim()) body.y = parseJson("y", "y");
  return body;
}

// --- presets ----------------------------------------------------------------------------------

function chain(sizes, activation) {
  const layers = [];
  for (let i = 1; i < sizes.length; i++) {
    if (i > 1) layers.push({ type: activation });
    layers.push({ type: "linear", in_features: sizes[i - 1], out_features: sizes[i] });
  }
  return layers;
}

// Each preset's layers, and for those that need them their own x, y, loss and init seed (the others
// take the seed example's, GET examples/seed, which also gives the "seed" preset at start-up).
const PRESETS = {
  linear: { layers: [{ type: "linear", in_features: 2, out_features: 1 }] },
  tanh: { layers: chain([2, 8, 8, 1], "tanh") },
  relu: { layers: chain([2, 16, 1], "relu") },
  cnn: {
    layers: [
      { type: "conv2d", in_channels: 1, out_channels: 2, kernel_size: 3 },
      { type: "relu" },
      { type: "max_pool2d", kernel_size: 2 },
      { type: "flatten" },
      { type: "linear", in_features: 2 * 2 * 2, out_features: 3 },
    ],
    data: {
      x: [[ // one image: 1 channel, 6 × 6
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        [0.2, 0.9, 0.7, 0.5, 0.3, 0.8],
        [0.4, 0.7, 0.1, 0.0, 0.5, 0.6],
        [0.6, 0.5, 0.0, 0.3, 0.7, 0.4],
        [0.8, 0.3, 0.5, 0.7, 0.9, 0.2],
        [1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
      ]],
      y: 1, // its class, of 3
      loss: "cross_entropy",
      init_seed: 3, // its ReLU passes some of each channel and zeroes the rest
    },
  },
};

/** JSON with each innermost list on a line of its own, so that an image reads as one. */
function formatJson(value, indent = "") {
  if (!Array.isArray(value) || !Array.isArray(value[0])) return JSON.stringify(value);
  const inner = indent + " ";
  return "[" + value.map((item) => formatJson(item, inner)).join(",\n" + inner) + "]";
}

function showData(id, value) {
  const text = value === undefined ? "" : formatJson(value);
  $(id).value = text;
  $(id).rows = Math.min(8, Math.max(2, text.split("\n").length));
}

/** Fill the form from a preset: its layers, and its data or else the seed example's. */
export function choosePreset(name) {
  const preset = PRESETS[name];
  setLayers(preset.layers);
  const data = preset.data ?? PRESETS.seed.data;
  showData("x", data.x);
  showData("y", data.y);
  setLoss(data.loss);
  $("init-seed").value = data.init_seed;
}

/** The seed example (GET examples/seed) becomes the "seed" preset and fills the form. */
export function useSeedExample(example) {
  PRESETS.seed = { layers: example.network.layers, data: example };
  choosePreset("seed");
  $("preset").disabled = false; // every preset but the CNN takes the seed's data
}
