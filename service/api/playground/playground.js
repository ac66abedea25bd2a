// The playground: plain JavaScript, no framework and no build step. Every number on the page
// comes from the service's own API (GET examples/seed; POST gradients, gradients/check, train),
// called with relative URLs so that the page works wherever the service is mounted.

const NDJSON = "application/x-ndjson";
const SVG = "http://www.w3.org/2000/svg";
const ENGINES = ["autograd", "manual"];
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
const MAX_GRID_ENTRIES = 400; // a Check grid larger than this lists its mismatches instead
const MAX_CHART_MARKERS = 200; // more epochs than this are drawn as lines only

const $ = (id) => document.getElementById(id);

// --- small DOM helpers ------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function field(id, labelChildren, control) {
  const label = el("label", { for: id }, ...labelChildren);
  control.id = id;
  return el("div", { class: "field" }, label, control);
}

function hidden(text) {
  return el("span", { class: "sr-only" }, text);
}

// --- numbers ----------------------------------------------------------------------------------

function exponent(v) {
  return v === 0 ? "0" : v.toExponential(2);
}

function short(v) {
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}

function vectorText(values) {
  if (!Array.isArray(values)) return short(values);
  if (Array.isArray(values[0])) return values.map(vectorText).join("\n");
  return "[" + values.map(short).join(", ") + "]";
}

function shapeOf(values) {
  const shape = [];
  for (let v = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  return shape;
}

// --- errors -----------------------------------------------------------------------------------

class InputError extends Error {
  constructor(id, message) {
    super(message);
    this.id = id;
  }
}

class ApiError extends Error {
  constructor(detail) {
    super("the service refused the request");
    this.detail = detail;
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
  if (error instanceof InputError) {
    const input = $(error.id);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  container.replaceChildren(el("div", { class: "errors", role: "alert" }, list));
}

function clearInvalid() {
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  $("problem-errors").replaceChildren();
}

// --- the problem form -------------------------------------------------------------------------

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

function addLayer() {
  const last = layers[layers.length - 1];
  layers.push(last && last.type === "linear" ? { type: "sigmoid" } : defaults("linear", layers.length));
  renderLayers();
  $(`layer-${layers.length - 1}-type`).focus();
}

function parseJson(id, name) {
  const text = $(id).value.trim();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(id, `${name} is not valid JSON: ${error.message}`);
  }
}

function parseInteger(id, name) {
  const text = $(id).value.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InputError(id, `${name} must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`);
  }
  return value;
}

function parsePositive(id, name) {
  const value = Number($(id).value.trim());
  if (!Number.isFinite(value) || value <= 0) throw new InputError(id, `${name} must be a number above 0`);
  return value;
}

function weightsSource() {
  return document.querySelector('input[name="weights-source"]:checked').value;
}

function showWeightsSource() {
  const pasted = weightsSource() === "paste";
  $("weights-field").hidden = !pasted;
  $("init-seed-field").hidden = pasted;
}

/** The network, its weights, the loss and the dtype: what every request starts from. */
function networkBody() {
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
function problemBody() {
  const body = networkBody();
  body.x = parseJson("x", "x");
  if ($("y").value.trim()) body.y = parseJson("y", "y");
  return body;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new ApiError(answer.detail);
  return answer;
}

/** Run `work`, marking `output` busy, then done or failed (errors shown in `errors`). */
async function run(output, errors, work) {
  clearInvalid();
  output.dataset.state = "busy";
  output.setAttribute("aria-busy", "true");
  try {
    await work();
    output.dataset.state = "done";
  } catch (error) {
    showError(errors, error);
    output.dataset.state = "error";
  } finally {
    output.removeAttribute("aria-busy");
  }
}

// --- Compute ----------------------------------------------------------------------------------

function figure(list, term, value, id) {
  const dd = el("dd", id ? { id, "data-value": JSON.stringify(value) } : {},
    typeof value === "string" ? value : JSON.stringify(value));
  list.append(el("dt", {}, term), dd);
}

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
function heatmaps(name, values, index = []) {
  if (shapeOf(values).length <= 2) {
    const label = index.length ? `${name}[${index.join(", ")}]` : name;
    const map = heatmap(label, values);
    if (index.length) map.dataset.slice = index.join(",");
    map.querySelector("canvas").dataset.param = name;
    return [map];
  }
  return values.flatMap((inner, i) => heatmaps(name, inner, [...index, i]));
}

function renderCompute(answer) {
  const figures = el("dl", { class: "figures" });
  figure(figures, "Loss", answer.loss, "loss-value");
  figure(figures, "Prediction", answer.prediction, "prediction-value");
  figure(figures, "Engines agree", answer.agree ? "yes" : "no", "agree-value");
  figure(figures, "Time", ENGINES.map((e) => `${e} ${answer.engines[e].elapsed_ms.toFixed(2)} ms`).join(", "));
  const maps = Object.entries(answer.gradients).flatMap(([name, g]) => heatmaps(name, g));
  $("compute-output").replaceChildren(
    figures,
    deviationTable(answer.deviations.manual),
    el("h3", {}, "Gradients (autograd's)"),
    el("div", { class: "scale", "aria-hidden": "true" }, "negative", el("span", { class: "bar" }), "positive"),
    el("div", { class: "heatmaps" }, ...maps));
}

async function compute(event) {
  event.preventDefault();
  await run($("compute-output"), $("problem-errors"), async () => {
    renderCompute(await post("gradients", problemBody()));
  });
}

// --- Trace ------------------------------------------------------------------------------------

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

async function trace() {
  await run($("trace-output"), $("problem-errors"), async () => {
    renderTrace(await post("gradients", { ...problemBody(), trace: true }));
  });
}

// --- Check ------------------------------------------------------------------------------------

function candidateBody() {
  const given = parseJson("candidate", "Your gradients");
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new InputError("candidate", 'Your gradients must be a JSON object such as {"0.weight": [[…]], …}');
  }
  return "gradients" in given ? given : { gradients: given };
}

function grid(name, values, wrong) {
  const matrix = Array.isArray(values[0]) ? values : [values];
  const rows = matrix.map((row, i) => el("tr", {}, ...row.map((v, j) => {
    const index = Array.isArray(values[0]) ? `${i},${j}` : `${j}`;
    const mismatch = wrong.get(index);
    const attributes = { "data-param": name, "data-index": index };
    if (mismatch) {
      attributes.class = "wrong";
      attributes.title = `expected ${mismatch.expected}`;
    }
    return el("td", attributes, short(v));
  })));
  return el("div", { class: "scroll" }, el("table", { class: "grid", "data-param": name },
    el("caption", {}, `${name}: yours, the wrong entries marked`), el("tbody", {}, ...rows)));
}

function mismatchList(finding) {
  return el("ul", {}, ...finding.mismatches.map((m) => el("li", {},
    `[${m.index.join(", ")}]: expected ${m.expected}, got ${m.got}`)));
}

function renderFinding(name, finding, given) {
  const status = finding.status === "ok" ? "correct" : finding.status.replace("_", " ");
  const parts = [
    el("h3", {}, name + " ", el("span", { class: finding.agree ? "yes" : "no" }, status)),
    el("p", {}, `${finding.correct} of ${finding.entries} entries within tolerance`
      + (finding.hint ? `. ${finding.hint}` : "")),
  ];
  const wrong = new Map(finding.mismatches.map((m) => [m.index.join(","), m]));
  if (finding.status === "mismatch") {
    const gridFits = Array.isArray(given) && finding.entries <= MAX_GRID_ENTRIES;
    parts.push(gridFits ? grid(name, given, wrong) : mismatchList(finding));
  }
  if (finding.mismatch_count > finding.mismatches.length) {
    parts.push(el("p", { class: "hint" }, `${finding.mismatch_count} wrong; the worst ${finding.mismatches.length} are shown`));
  }
  return el("section", { class: "finding", "data-quantity": name, "data-status": finding.status }, ...parts);
}

function renderCheck(answer, candidate) {
  const report = answer.report;
  const verdict = el("p", { class: "verdict", id: "check-verdict", "data-verdict": report.verdict },
    el("strong", { class: report.verdict === "pass" ? "yes" : "no" }, report.verdict === "pass" ? "Pass" : "Fail"),
    `: ${report.correct} of ${report.total} entries right (score ${report.score.toFixed(3)})`);
  const findings = [];
  for (const key of ["loss", "prediction", "input_gradient"]) {
    if (report[key]) findings.push(renderFinding(key, report[key], candidate[key]));
  }
  for (const [name, finding] of Object.entries(report.gradients)) {
    findings.push(renderFinding(name, finding, candidate.gradients[name]));
  }
  if (report.unexpected.length) {
    findings.push(el("p", {}, "Not parameters of this network: " + report.unexpected.join(", ")));
  }
  $("check-output").replaceChildren(verdict, ...findings);
}

async function check(event) {
  event.preventDefault();
  const output = $("check-output");
  await run(output, output, async () => {
    const candidate = candidateBody();
    renderCheck(await post("gradients/check", { ...problemBody(), candidate, max_mismatches: 1000 }), candidate);
  });
}

async function fillCandidate() {
  const output = $("check-output");
  await run(output, output, async () => {
    const answer = await post("gradients", { ...problemBody(), engines: ["autograd"] });
    const lines = Object.entries(answer.gradients).map(([name, g]) => `  ${JSON.stringify(name)}: ${JSON.stringify(g)}`);
    $("candidate").value = "{\n" + lines.join(",\n") + "\n}";
    output.replaceChildren(el("p", { class: "hint" }, "The reference gradients are filled in: change an entry and press Check."));
  });
}

// --- Train ------------------------------------------------------------------------------------

const chart = { planned: 1, curves: { autograd: [], manual: [] }, drawing: false };
let training = null; // the AbortController of the run in progress

function trainBody() {
  const body = networkBody();
  if (document.querySelector('input[name="train-data"]:checked').value === "seed") {
    body.data = { generator: "seed", n: parseInteger("data-n", "Points"), seed: parseInteger("data-seed", "Data seed") };
  } else {
    body.data = { x: parseJson("x", "x") };
    if ($("y").value.trim()) body.data.y = parseJson("y", "y");
  }
  body.learning_rate = parsePositive("learning-rate", "Learning rate");
  body.batch_size = parseInteger("batch-size", "Batch size");
  body.epochs = parseInteger("epochs", "Epochs");
  if ($("shuffle-seed").value.trim()) body.shuffle_seed = parseInteger("shuffle-seed", "Shuffle seed");
  return body;
}

function scheduleChart() {
  if (chart.drawing) return;
  chart.drawing = true;
  requestAnimationFrame(() => {
    chart.drawing = false;
    drawChart();
  });
}

/** Axis ticks at round numbers (1, 2 or 5 × 10ⁿ apart) covering [low, high]. */
function ticks(low, high, count) {
  // At least a thousandth of the values' size: two engines a few ulps apart still get an axis.
  const raw = Math.max(high - low, Math.abs(high) * 1e-3, 1e-12) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * magnitude >= raw) * magnitude;
  const first = Math.floor(low / step) * step;
  const values = [];
  for (let v = first; values.length < 2 || v < high + step * 0.999; v += step) {
    values.push(Number(v.toPrecision(12)));
  }
  return values;
}

function drawChart() {
  const node = $("loss-chart");
  const [width, height] = [640, 320];
  const [left, right, top, bottom] = [78, 16, 16, 52];
  const values = ENGINES.flatMap((e) => chart.curves[e]);
  const marks = values.length
    ? ticks(values.reduce((a, b) => Math.min(a, b)), values.reduce((a, b) => Math.max(a, b)), 4)
    : [0, 1];
  const [low, high] = [marks[0], marks.at(-1)];
  const epochs = Math.max(chart.planned, 2);
  const px = (epoch) => left + ((epoch - 1) / (epochs - 1)) * (width - left - right);
  const py = (loss) => top + (1 - (loss - low) / (high - low)) * (height - top - bottom);
  const parts = [];
  for (const v of marks) {
    parts.push(svg("line", { class: "gridline", x1: left, x2: width - right, y1: py(v), y2: py(v) }));
    parts.push(svg("text", { x: left - 8, y: py(v) + 5, "text-anchor": "end" }, short(v)));
  }
  const step = Math.max(1, Math.ceil(chart.planned / 8));
  for (let e = 1; e <= chart.planned; e += step) {
    parts.push(svg("text", { x: px(e), y: height - bottom + 20, "text-anchor": "middle" }, String(e)));
  }
  parts.push(
    svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: height - bottom }),
    svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }),
    svg("text", { x: (left + width - right) / 2, y: height - 8, "text-anchor": "middle" }, "epoch"),
    svg("text", { x: 16, y: (top + height - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 16 ${(top + height - bottom) / 2})` }, "mean loss"));
  for (const engine of ENGINES) {
    const curve = chart.curves[engine];
    const points = curve.map((v, i) => `${px(i + 1)},${py(v)}`).join(" ");
    parts.push(svg("polyline", { class: `curve ${engine}`, points, "data-engine": engine }));
    if (curve.length <= MAX_CHART_MARKERS) {
      curve.forEach((v, i) => parts.push(svg("circle", {
        class: `point ${engine}`, cx: px(i + 1), cy: py(v), r: engine === "autograd" ? 4 : 2.5,
        "data-engine": engine, "data-epoch": i + 1, "data-loss": String(v),
      }, svg("title", {}, `${engine}, epoch ${i + 1}: ${v}`))));
    }
  }
  const done = chart.curves.autograd.length;
  node.replaceChildren($("loss-chart-title"), $("loss-chart-desc"), ...parts);
  node.dataset.points = String(done);
  $("loss-chart-desc").textContent = done
    ? `${done} of ${chart.planned} epochs; last mean loss: autograd ${chart.curves.autograd[done - 1]}, manual ${chart.curves.manual[done - 1]}.`
    : "No epoch yet.";
}

async function* lines(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}

function epochRow(epoch) {
  return el("tr", { "data-epoch": epoch.epoch },
    el("th", { scope: "row" }, String(epoch.epoch)),
    el("td", {}, String(epoch.loss.autograd)),
    el("td", {}, String(epoch.loss.manual)),
    el("td", {}, exponent(epoch.weight_deviation.max_abs)),
    el("td", {}, epoch.elapsed_ms.toFixed(1)));
}

function renderSummary(summary) {
  const figures = el("dl", { class: "figures", id: "train-figures" });
  const left = summary.left_tolerance;
  figure(figures, "Within tolerance", summary.within_tolerance
    ? `yes, after every one of ${summary.steps} steps`
    : `no: first out after step ${left.step} (epoch ${left.epoch}), by ${exponent(left.max_abs)}`);
  figure(figures, "Final max |Δw|", exponent(summary.weight_deviation.max_abs));
  figure(figures, "Final loss", ENGINES.map((e) => `${e} ${summary.loss_curves[e].at(-1)}`).join(", "));
  figure(figures, "Time", ENGINES.map((e) => `${e} ${(summary.engine_ms[e] / summary.epochs).toFixed(1)} ms`).join(", ") + " per epoch");
  $("train-summary").replaceChildren(figures);
}

function receive(message, table) {
  if (message.type === "epoch") {
    for (const engine of ENGINES) chart.curves[engine].push(message.loss[engine]);
    table.append(epochRow(message));
    $("train-status").textContent = `Epoch ${message.epoch} of ${chart.planned}: mean loss ${message.loss.autograd}`;
    scheduleChart();
  } else if (message.type === "summary") {
    renderSummary(message);
    $("train-status").textContent = `Done: ${message.epochs} epochs, ${message.steps} steps.`;
  } else if (message.type === "error") {
    throw new ApiError(message.detail);
  }
}

async function train(event) {
  event.preventDefault();
  const output = $("train-summary");
  await run(output, output, async () => {
    const body = trainBody();
    chart.planned = body.epochs;
    chart.curves = { autograd: [], manual: [] };
    const table = $("epochs-table").tBodies[0];
    table.replaceChildren();
    output.replaceChildren();
    drawChart();
    training = new AbortController();
    $("train").disabled = true;
    $("stop").disabled = false;
    $("train-status").textContent = "Training…";
    try {
      const response = await fetch("train", {
        method: "POST",
        headers: { "content-type": "application/json", accept: NDJSON },
        body: JSON.stringify(body),
        signal: training.signal,
      });
      if (!response.ok) throw new ApiError((await response.json()).detail);
      for await (const message of lines(response.body)) receive(message, table);
    } catch (error) {
      if (error.name !== "AbortError") throw error;
      $("train-status").textContent = `Stopped after ${chart.curves.autograd.length} epochs: the service stops too.`;
    } finally {
      training = null;
      $("train").disabled = false;
      $("stop").disabled = true;
      drawChart();
    }
  });
}

// --- start-up ---------------------------------------------------------------------------------

async function start() {
  $("problem").addEventListener("submit", compute);
  $("trace").addEventListener("click", trace);
  $("add-layer").addEventListener("click", addLayer);
  $("preset").addEventListener("change", () => {
    const name = $("preset").value;
    layers = structuredClone(PRESETS[name]);
    renderLayers();
    const data = PRESET_DATA[name] || PRESET_DATA.seed;
    $("x").value = JSON.stringify(data.x);
    $("y").value = JSON.stringify(data.y);
    $("loss").value = data.loss;
    $("init-seed").value = data.init_seed;
  });
  for (const radio of document.querySelectorAll('input[name="weights-source"]')) {
    radio.addEventListener("change", showWeightsSource);
  }
  $("check-form").addEventListener("submit", check);
  $("fill-candidate").addEventListener("click", fillCandidate);
  $("train-form").addEventListener("submit", train);
  $("stop").addEventListener("click", () => training && training.abort());

  const response = await fetch("examples/seed");
  const example = await response.json();
  PRESETS.seed = example.network.layers;
  PRESET_DATA.seed = example;
  layers = structuredClone(PRESETS.seed);
  renderLayers();
  $("init-seed").value = example.init_seed;
  $("x").value = JSON.stringify(example.x);
  $("y").value = JSON.stringify(example.y);
  $("loss").value = example.loss;
  drawChart();
  document.body.dataset.ready = "true";
}

start();
