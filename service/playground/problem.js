// The problem form: the layer editor and its presets, the weights, x, y and the loss; the
// request bodies built from them; and how a failed request is shown on the form.

import { ApiError } from "./api.js";
import { $, el, field, hidden } from "./dom.js";
import { clearKeyProblem, showKeyProblem } from "./key.js";

// Every layer kind and its options, as the API takes them: [name, label, form, default]. A form
// is "int", "number", "pair" (an int, or "h, w"), "sizes" (an int, or "a, b, …"), "bool",
// "json", or a list of choices. A null default is left out of the request (torch's default).
const KINDS = {
  linear: [["in_features", "in features", "int", 2], ["out_features", "out features", "int", 1],
    ["bias", "bias", "bool", true]],
  sigmoid: [], tanh: [], relu: [], identity: [], silu: [], mish: [],
  leaky_relu: [["negative_slope", "negative slope", "number", 0.01]],
  elu: [["alpha", "alpha", "number", 1]],
  softplus: [["beta", "beta", "number", 1], ["threshold", "threshold", "number", 20]],
  gelu: [["approximate", "approximate", ["none", "tanh"], "none"]],
  conv2d: [["in_channels", "in channels", "int", 1], ["out_channels", "out channels", "int", 1],
    ["kernel_size", "kernel size", "pair", 3], ["stride", "stride", "pair", 1],
    ["padding", "padding", "pair", 0], ["dilation", "dilation", "pair", 1],
    ["bias", "bias", "bool", true]],
  max_pool2d: [["kernel_size", "kernel size", "pair", 2], ["stride", "stride", "pair", null],
    ["padding", "padding", "pair", 0]],
  avg_pool2d: [["kernel_size", "kernel size", "pair", 2], ["stride", "stride", "pair", null],
    ["padding", "padding", "pair", 0], ["count_include_pad", "count padding", "bool", true]],
  flatten: [["start_dim", "start dim", "int", 1], ["end_dim", "end dim", "int", -1]],
  batch_norm1d: [["num_features", "features", "int", 1], ["eps", "eps", "number", 1e-5],
    ["affine", "affine", "bool", true]],
  batch_norm2d: [["num_features", "channels", "int", 1], ["eps", "eps", "number", 1e-5],
    ["affine", "affine", "bool", true]],
  layer_norm: [["normalized_shape", "normalized shape", "sizes", 1], ["eps", "eps", "number", 1e-5],
    ["elementwise_affine", "affine", "bool", true]],
  dropout: [["p", "p", "number", 0.5]],
  softmax: [["dim", "dim", "int", -1]],
  log_softmax: [["dim", "dim", "int", -1]],
  residual: [["layers", "inner layers, JSON", "json", [{ type: "identity" }]]],
};
const LAYER_TYPES = Object.keys(KINDS);

/** A value on the form that cannot be sent: `id` names its control. */
export class InputError extends Error {
  constructor(id, message) {
    super(message);
    this.id = id;
  }
}

function where(loc) {
  const path = loc[0] === "body" || loc[0] === "query" ? loc.slice(1) : loc;
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : (i ? "." : "") + part)).join("");
}

function showError(container, error) {
  const list = el("ul");
  if (error instanceof ApiError) {
    for (const item of error.detail) {
      list.append(el("li", {}, el("code", {}, where(item.loc) || "body"), ": " + item.msg));
    }
  } else {
    list.append(el("li", {}, error.message));
  }
  if (error instanceof ApiError) {
    for (const item of error.detail) {
      const [, network, group, index] = item.loc;
      const layer = network === "network" && group === "layers" ? $(`layer-${index}`) : null;
      if (layer) layer.setAttribute("aria-invalid", "true");
    }
  }
  if (error instanceof ApiError && error.unauthorized) {
    showKeyProblem();
    $("api-key").focus();
  }
  if (error instanceof InputError) {
    const input = $(error.id);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  container.replaceChildren(el("div", { class: "errors", role: "alert" }, list));
}

/** Before a request: the marks of the last one's errors go (the key's stay until a call works). */
function clearInvalid() {
  for (const node of document.querySelectorAll("[aria-invalid]:not(#api-key)")) {
    node.removeAttribute("aria-invalid");
  }
  $("problem-errors").replaceChildren();
}

const PRESETS = {
  linear: [{ type: "linear", in_features: 2, out_features: 1 }],
  tanh: chain([2, 8, 8, 1], "tanh"),
  relu: chain([2, 16, 1], "relu"),
  cnn: [
    { type: "conv2d", in_channels: 1, out_channels: 2, kernel_size: 3 },
    { type: "relu" },
    { type: "max_pool2d", kernel_size: 2 },
    { type: "flatten" },
    { type: "linear", in_features: 8, out_features: 3 },
  ],
  // "seed" is read from GET examples/seed at start-up
};

// A preset that needs its own data: x, y and the loss it is meant for.
const PRESET_DATA = {
  cnn: {
    x: [Array.from({ length: 6 }, (_, i) => Array.from({ length: 6 }, (_, j) => (i + j) / 10))],
    y: 2,
    loss: "cross_entropy",
    init_seed: 1,
  },
};

function chain(sizes, activation) {
  const layers = [];
  for (let i = 1; i < sizes.length; i++) {
    if (i > 1) layers.push({ type: activation });
    layers.push({ type: "linear", in_features: sizes[i - 1], out_features: sizes[i] });
  }
  return layers;
}

let layers = [];

function lastWidth(before) {
  for (let i = before - 1; i >= 0; i--) if (layers[i].type === "linear") return layers[i].out_features;
  return 2;
}

function defaults(kind, index) {
  const layer = { type: kind };
  for (const [name, , , value] of KINDS[kind]) if (value !== null) layer[name] = structuredClone(value);
  if (kind === "linear") layer.in_features = lastWidth(index);
  return layer;
}

function optionText(value) {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value) && typeof value[0] !== "object") return value.join(", ");
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function parseOption(form, text) {
  const trimmed = text.trim();
  if (form === "json") return JSON.parse(trimmed);
  if (trimmed === "") return null;
  if (form === "pair" || form === "sizes") {
    const parts = trimmed.split(",").map((part) => Number(part.trim()));
    return parts.length === 1 ? parts[0] : parts;
  }
  return Number(trimmed);
}

function optionControl(layer, index, [name, label, form, fallback]) {
  const id = `layer-${index}-${name}`;
  let control;
  if (form === "bool") {
    control = el("input", { type: "checkbox" });
    control.checked = layer[name] !== false;
    control.addEventListener("change", () => { layer[name] = control.checked; });
  } else if (Array.isArray(form)) {
    control = el("select");
    for (const choice of form) control.append(new Option(choice, choice, false, choice === layer[name]));
    control.addEventListener("change", () => { layer[name] = control.value; });
  } else {
    control = el(form === "json" ? "textarea" : "input", form === "json" ? { rows: "2", spellcheck: "false" }
      : { type: "text", inputmode: form === "number" ? "decimal" : "numeric", size: "6" });
    control.value = optionText(layer[name]);
    control.placeholder = fallback === null ? "as kernel size" : optionText(fallback);
    control.addEventListener("change", () => {
      try {
        const value = parseOption(form, control.value);
        if (value === null) delete layer[name];
        else layer[name] = value;
        control.removeAttribute("aria-invalid");
      } catch {
        control.setAttribute("aria-invalid", "true");
      }
    });
  }
  return field(id, [hidden(`Layer ${index} `), label], control);
}

function renderLayers() {
  const list = $("layers");
  list.replaceChildren();
  layers.forEach((layer, i) => {
    const type = el("select");
    for (const name of LAYER_TYPES) type.append(new Option(name, name, false, name === layer.type));
    type.addEventListener("change", () => {
      layers[i] = defaults(type.value, i);
      renderLayers();
      $(`layer-${i}-type`).focus();
    });
    const item = el("li", { class: "layer", id: `layer-${i}` }, field(`layer-${i}-type`, ["Layer " + i], type));
    const options = el("div", { class: "options" },
      ...KINDS[layer.type].map((option) => optionControl(layer, i, option)));
    const remove = el("button", { type: "button", class: "remove", "aria-label": `Remove layer ${i}` }, "Remove");
    remove.addEventListener("click", () => {
      layers.splice(i, 1);
      renderLayers();
      $("add-layer").focus();
    });
    item.append(options, remove);
    list.append(item);
  });
}

export function addLayer() {
  const last = layers[layers.length - 1];
  layers.push(last && last.type === "linear" ? { type: "sigmoid" } : defaults("linear", layers.length));
  renderLayers();
  $(`layer-${layers.length - 1}-type`).focus();
}

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

function weightsSource() {
  return document.querySelector('input[name="weights-source"]:checked').value;
}

export function showWeightsSource() {
  const pasted = weightsSource() === "paste";
  $("weights-field").hidden = !pasted;
  $("init-seed-field").hidden = pasted;
}

/** The network, its weights, the loss and the dtype: what every request starts from. */
export function networkBody() {
  const options = $("loss-options").value.trim();
  const loss = options ? { type: $("loss").value, ...parseJson("loss-options", "Loss options") } : $("loss").value;
  const body = {
    network: { layers: layers.map((layer) => structuredClone(layer)) },
    loss,
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


/** Fill the form from a preset: its layers, and its data or else the seed example's. */
export function choosePreset(name) {
  layers = structuredClone(PRESETS[name]);
  renderLayers();
  const data = PRESET_DATA[name] || PRESET_DATA.seed;
  $("x").value = JSON.stringify(data.x);
  $("y").value = JSON.stringify(data.y);
  $("loss").value = data.loss;
  $("init-seed").value = data.init_seed;
}

/** The seed example (GET examples/seed) becomes the "seed" preset and fills the form. */
export function useSeedExample(example) {
  PRESETS.seed = example.network.layers;
  PRESET_DATA.seed = example;
  choosePreset("seed");
  $("preset").disabled = false; // every preset but the CNN takes the seed's data
}
