// Train: both engines' loss curves drawn live from the x-ndjson stream of POST train.

import { ApiError, call } from "./api.js";
import { $, el, figure, svg } from "./dom.js";
import { networkBody, parseInteger, parseJson, parsePositive, run } from "./problem.js";
import { exponent, short } from "./tensors.js";

const NDJSON = "application/x-ndjson";
const ENGINES = ["autograd", "manual"];
const MAX_CHART_MARKERS = 200; // more epochs than this are drawn as lines only

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

export function drawChart() {
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

export async function train(event) {
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
      const response = await call("train", { method: "POST", body, accept: NDJSON, signal: training.signal });
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

/** Abort the run in progress: the service stops too. */
export function stopTraining() {
  if (training) training.abort();
}
