// Check: pasted gradients graded by the service (POST gradients/check), the wrong entries marked.

import { post } from "./api.js";
import { $, el } from "./dom.js";
import { InputError, parseJson, problemBody, run } from "./problem.js";
import { shapeOf, short } from "./tensors.js";

const MAX_GRID_ENTRIES = 400; // a grid larger than this (or of 3 axes or more) lists its mismatches instead

function candidateBody() {
  const given = parseJson("candidate", "Your gradients");
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new InputError("candidate", 'Your gradients must be a JSON object such as {"0.weight": [[…]], …}');
  }
  return "gradients" in given ? given : { gradients: given };
}

function grid(name, values, wrong, kinks) {
  const matrix = Array.isArray(values[0]) ? values : [values];
  const rows = matrix.map((row, i) => el("tr", {}, ...row.map((v, j) => {
    const index = Array.isArray(values[0]) ? `${i},${j}` : `${j}`;
    const mismatch = wrong.get(index);
    const kink = kinks.get(index);
    const attributes = { "data-param": name, "data-index": index };
    if (mismatch) {
      attributes.class = "wrong";
      attributes.title = `expected ${mismatch.expected}`;
    } else if (kink) {
      attributes.class = "kink";
      attributes.title = `at a kink, a valid one-sided derivative: ${kink.why}`;
    }
    return el("td", attributes, short(v));
  })));
  return el("div", { class: "scroll" }, el("table", { class: "grid", "data-param": name },
    el("caption", {}, `${name}: yours, the wrong entries marked${kinks.size ? ", those at kinks outlined" : ""}`),
    el("tbody", {}, ...rows)));
}

function mismatchList(finding) {
  return el("ul", {}, ...finding.mismatches.map((m) => el("li", {},
    `[${m.index.join(", ")}]: expected ${m.expected}, got ${m.got}`)));
}

function renderFinding(name, finding, given, kinks) {
  const status = finding.status === "ok" ? "correct" : finding.status.replace("_", " ");
  const atKinks = finding.kink_count ? `, ${finding.kink_count} of them at kinks (a valid one-sided derivative)` : "";
  const parts = [
    el("h3", {}, name + " ", el("span", { class: finding.agree ? "yes" : "no" }, status)),
    el("p", {}, `${finding.correct} of ${finding.entries} entries within tolerance${atKinks}`
      + (finding.hint ? `. ${finding.hint}` : "")),
  ];
  const wrong = new Map(finding.mismatches.map((m) => [m.index.join(","), m]));
  if (finding.status === "mismatch" || finding.kink_count) {
    const axes = shapeOf(given).length;
    const gridFits = axes >= 1 && axes <= 2 && finding.entries <= MAX_GRID_ENTRIES;
    parts.push(gridFits ? grid(name, given, wrong, kinks) : mismatchList(finding));
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
    `: score ${report.score.toFixed(3)} (one bug costs the same wherever it sits); `
    + `${report.correct} of ${report.total} entries right`);
  const kinks = new Map(); // quantity → index "i,j" → the kink
  for (const kink of report.kinks) {
    if (!kinks.has(kink.quantity)) kinks.set(kink.quantity, new Map());
    kinks.get(kink.quantity).set(kink.index.join(","), kink);
  }
  const findings = [];
  const named = report.diagnoses.filter((d) => d.kind !== "kink");
  if (named.length) {
    findings.push(el("section", { class: "diagnoses", id: "check-diagnoses" },
      el("h3", {}, "What went wrong"),
      el("ol", {}, ...named.map((d) => el("li", {
        "data-kind": d.kind,
        "data-layer": d.layer === null ? "" : String(d.layer),
        "data-parameters": d.parameters.join(","),
      }, el("strong", {}, d.kind.replaceAll("_", " ")), d.layer === null ? ": " : ` (layer ${d.layer}): `, d.message)))));
  }
  if (report.kink_count) {
    const why = [...new Set(report.kinks.map((k) => k.why))].join("; ");
    findings.push(el("p", { class: "hint kink-note", id: "check-kinks" },
      `${report.kink_count} entries sit at a kink, where the derivative is not defined, and hold a `
      + `valid one-sided derivative: counted right. ${why}.`));
  }
  for (const key of ["loss", "prediction", "input_gradient"]) {
    if (report[key]) findings.push(renderFinding(key, report[key], candidate[key], kinks.get(key) || new Map()));
  }
  for (const [name, finding] of Object.entries(report.gradients)) {
    findings.push(renderFinding(name, finding, candidate.gradients[name], kinks.get(name) || new Map()));
  }
  if (report.unexpected.length) {
    findings.push(el("p", {}, "Not parameters of this network: " + report.unexpected.join(", ")));
  }
  $("check-output").replaceChildren(verdict, ...findings);
}

export async function check(event) {
  event.preventDefault();
  const output = $("check-output");
  await run(output, output, async () => {
    const candidate = candidateBody();
    renderCheck(await post("gradients/check", { ...problemBody(), candidate, max_mismatches: 1000 }), candidate);
  });
}

export async function fillCandidate() {
  const output = $("check-output");
  await run(output, output, async () => {
    const answer = await post("gradients", { ...problemBody(), engines: ["autograd"] });
    const lines = Object.entries(answer.gradients).map(([name, g]) => `  ${JSON.stringify(name)}: ${JSON.stringify(g)}`);
    $("candidate").value = "{\n" + lines.join(",\n") + "\n}";
    output.replaceChildren(el("p", { class: "hint" }, "The reference gradients are filled in: change an entry and press Check."));
  });
}
