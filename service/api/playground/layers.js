// The layer editor: every kind the API takes (DESIGN.md, "Layers beyond the MLP"), each with its
// options, and a residual block holding its own list of layers.
//
// A layer is edited in place in `network` (the objects the request sends). A layer is named by its
// path: [2] is layer 2, [2, 0] the first inner layer of block 2 ("layer 2.0", as the API names it);
// its list item's id is "layer-2-0" and an option's control "layer-2-0-kernel_size".

import { $, el, field, hidden } from "./dom.js";

// Every kind and its options as the API takes them: [name, label, form, default]. A form is
// "int", "number", "pair" (an int, or two as "h, w"), "sizes" (one int or several), "bool", a
// list of choices, or "layers" (a residual block's inner list). A null default leaves the
// option out of the request, for torch's default (a pool's stride is its kernel size).
const KINDS = {
  linear: [["in_features", "in features", "int", 2], ["out_features", "out features", "int", 1],
    ["bias", "bias", "bool", true]],
  identity: [],
  sigmoid: [],
  tanh: [],
  relu: [],
  leaky_relu: [["negative_slope", "negative slope", "number", 0.01]],
  elu: [["alpha", "alpha", "number", 1]],
  softplus: [["beta", "beta", "number", 1], ["threshold", "threshold", "number", 20]],
  gelu: [["approximate", "approximate", ["none", "tanh"], "none"]],
  silu: [],
  mish: [],
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
  residual: [["layers", "inner layers", "layers", [{ type: "identity" }]]],
};

// The kinds as the type menu groups them.
const KIND_GROUPS = [
  ["Linear", ["linear"]],
  ["Activations", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
    "silu", "mish"]],
  ["Images", ["conv2d", "max_pool2d", "avg_pool2d", "flatten"]],
  ["Normalisation", ["batch_norm1d", "batch_norm2d", "layer_norm"]],
  ["Dropout and probabilities", ["dropout", "softmax", "log_softmax"]],
  ["Blocks: x + f(x)", ["residual"]],
];

// --- the network being edited -----------------------------------------------------------------

let network = [];

export function setLayers(layers) {
  network = structuredClone(layers);
  renderLayers();
}

/** The layers to send (an option's text that cannot be read is marked data-unreadable). */
export function layersBody() {
  return structuredClone(network);
}

function pathName(path) {
  return path.join(".");
}

function pathId(path) {
  return `layer-${path.join("-")}`;
}

/** A new layer of `kind` with its defaults; a linear layer takes the width before it. */
function defaults(kind, siblings, index) {
  const layer = { type: kind };
  for (const [name, , , value] of KINDS[kind]) if (value !== null) layer[name] = structuredClone(value);
  if (kind === "linear") layer.in_features = widthBefore(siblings, index);
  return layer;
}

function widthBefore(siblings, index) {
  for (let i = index - 1; i >= 0; i--) if (siblings[i].type === "linear") return siblings[i].out_features;
  return 2;
}

// --- reading and writing an option's text -----------------------------------------------------

const INTEGER = /^-?\d+$/;

function optionText(value) {
  if (value === undefined || value === null) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function integers(text) {
  const parts = text.split(",").map((part) => part.trim());
  return parts.every((part) => INTEGER.test(part)) ? parts.map(Number) : null;
}

/** The value of an option's text, null for blank, or an Error saying what the form takes. */
function readOption(form, text) {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (form === "int" && INTEGER.test(trimmed)) return Number(trimmed);
  if (form === "number" && Number.isFinite(Number(trimmed))) return Number(trimmed);
  const list = form === "pair" || form === "sizes" ? integers(trimmed) : null;
  if (list && (form === "sizes" || list.length <= 2)) return list.length === 1 ? list[0] : list;
  return new Error({
    int: "a whole number",
    number: "a number",
    pair: 'a whole number, or two as "height, width"',
    sizes: 'a whole number, or several as "a, b"',
  }[form]);
}

// --- the editor -------------------------------------------------------------------------------

function renderLayers() {
  $("layers").replaceChildren(...network.map((layer, i) => layerItem(network, i, [i])));
}

function typeMenu(layer) {
  const menu = el("select");
  for (const [group, kinds] of KIND_GROUPS) {
    menu.append(el("optgroup", { label: group },
      ...kinds.map((kind) => new Option(kind, kind, false, kind === layer.type))));
  }
  return menu;
}

function layerItem(siblings, index, path) {
  const layer = siblings[index];
  const name = pathName(path);
  const type = typeMenu(layer);
  type.addEventListener("change", () => {
    siblings[index] = defaults(type.value, siblings, index);
    renderLayers();
    $(`${pathId(path)}-type`).focus();
  });
  const remove = el("button", { type: "button", class: "remove", "aria-label": `Remove layer ${name}` }, "Remove");
  remove.addEventListener("click", () => {
    siblings.splice(index, 1);
    renderLayers();
    $(path.length > 1 ? `${pathId(path.slice(0, -1))}-add` : "add-layer").focus();
  });
  const item = el("li", { class: "layer", id: pathId(path), "data-type": layer.type },
    el("div", { class: "layer-head" }, field(`${pathId(path)}-type`, [`Layer ${name}`], type), remove));
  const options = KINDS[layer.type].filter(([, , form]) => form !== "layers");
  if (options.length) {
    const controls = options.map((option) => optionControl(layer, pathId(path), `Layer ${name} `, option));
    item.append(el("div", { class: "options" }, ...controls));
  }
  if (layer.type === "residual") item.append(blockEditor(layer, path));
  return item;
}

/** A residual block's inner layers: a list of its own, with its own "Add a layer". */
function blockEditor(block, path) {
  const name = pathName(path);
  const add = el("button", { type: "button", class: "secondary", id: `${pathId(path)}-add` },
    `Add a layer to block ${name}`);
  add.addEventListener("click", () => {
    block.layers.push(defaults("identity", block.layers, block.layers.length));
    renderLayers();
    $(`${pathId([...path, block.layers.length - 1])}-type`).focus();
  });
  return el("div", { class: "block" },
    el("p", { class: "hint" }, `f in x + f(x): its layers are named ${name}.0, ${name}.1, …`),
    el("ol", { class: "layers" }, ...block.layers.map((_, j) => layerItem(block.layers, j, [...path, j]))),
    add);
}

/**
 * The control of one option of `owner` (a layer, or the loss), its id `${idPrefix}-${name}`; edits
 * are written straight into `owner`. Text that cannot be read leaves `owner` as it was and marks
 * the control data-unreadable with what it takes.
 */
export function optionControl(owner, idPrefix, labelPrefix, [name, label, form, fallback]) {
  const id = `${idPrefix}-${name}`;
  const prefix = hidden(labelPrefix);
  if (form === "bool") {
    const box = el("input", { type: "checkbox", id });
    box.checked = owner[name] !== false;
    box.addEventListener("change", () => { owner[name] = box.checked; });
    return el("div", { class: "field check" }, box, el("label", { for: id }, prefix, label));
  }
  if (Array.isArray(form)) {
    const menu = el("select");
    for (const choice of form) menu.append(new Option(String(choice), String(choice), false, choice === owner[name]));
    menu.addEventListener("change", () => { owner[name] = form.find((choice) => String(choice) === menu.value); });
    return field(id, [prefix, label], menu);
  }
  const input = el("input", { type: "text", spellcheck: "false" });
  input.value = optionText(owner[name]);
  input.placeholder = fallback === null ? "= kernel size" : optionText(fallback);
  input.addEventListener("input", () => {
    const value = readOption(form, input.value);
    if (value instanceof Error) {
      input.dataset.unreadable = `${labelPrefix}${label}: ${value.message}`;
      input.setAttribute("aria-invalid", "true");
      return;
    }
    delete input.dataset.unreadable;
    input.removeAttribute("aria-invalid");
    if (value === null) delete owner[name];
    else owner[name] = value;
  });
  return field(id, [prefix, label], input);
}

/** A new layer at the end of the network: an activation after a linear layer, else a linear one. */
export function addLayer() {
  const last = network.at(-1);
  network.push(defaults(last && last.type === "linear" ? "sigmoid" : "linear", network, network.length));
  renderLayers();
  $(`${pathId([network.length - 1])}-type`).focus();
}

// --- errors that name a layer -----------------------------------------------------------------

/**
 * Where an error's loc (["body", "network", "layers", 2, "layers", 0, "in_channels"]) points in
 * the editor: the path of the deepest layer it names ([2, 0]) and the rest (["in_channels"]); null
 * for a loc outside the network's layers.
 */
function layerPath(loc) {
  if (loc[1] !== "network" || loc[2] !== "layers" || typeof loc[3] !== "number") return null;
  const path = [loc[3]];
  let rest = 4;
  while (loc[rest] === "layers" && typeof loc[rest + 1] === "number") {
    path.push(loc[rest + 1]);
    rest += 2;
  }
  return { path, rest: loc.slice(rest) };
}

/** Show an API error next to the layer it names (the nearest shown one); false if it names none. */
export function showLayerError(item) {
  const named = layerPath(item.loc);
  if (!named) return false;
  let path = named.path;
  while (path.length > 1 && !$(pathId(path))) path = path.slice(0, -1);
  const layer = $(pathId(path));
  if (!layer) return false;
  layer.setAttribute("aria-invalid", "true");
  const option = $(`${pathId(path)}-${named.rest[0]}`);
  if (option) option.setAttribute("aria-invalid", "true");
  const what = named.rest.length ? `${named.rest.join(".")}: ` : "";
  layer.append(el("p", { class: "layer-error" }, what + item.msg));
  return true;
}

export function clearLayerErrors() {
  for (const message of document.querySelectorAll(".layer-error")) message.remove();
}
