// The playground: plain JavaScript modules, no framework and no build step. Every number on the
// page comes from the service's own API (api.js). This module wires the page up at start-up.

import { getJson } from "./api.js";
import { check, fillCandidate } from "./check.js";
import { compute } from "./compute.js";
import { $ } from "./dom.js";
import { setUpKeyField } from "./key.js";
import { addLayer } from "./layers.js";
import { choosePreset, run, setLoss, showWeightsSource, useSeedExample } from "./problem.js";
import { trace } from "./trace.js";
import { drawChart, stopTraining, train } from "./train.js";

async function start() {
  $("problem").addEventListener("submit", compute);
  $("trace").addEventListener("click", trace);
  $("add-layer").addEventListener("click", addLayer);
  $("preset").addEventListener("change", () => choosePreset($("preset").value));
  $("loss").addEventListener("change", () => setLoss($("loss").value));
  for (const radio of document.querySelectorAll('input[name="weights-source"]')) {
    radio.addEventListener("change", showWeightsSource);
  }
  $("check-form").addEventListener("submit", check);
  $("fill-candidate").addEventListener("click", fillCandidate);
  $("train-form").addEventListener("submit", train);
  $("stop").addEventListener("click", stopTraining);

  setUpKeyField(loadSeedExampleIfMissing);
  drawChart();
  await loadSeedExample();
  document.body.dataset.ready = "true";
}

/** GET examples/seed fills the form; without a key the service wants, the key field says so. */
async function loadSeedExample() {
  await run($("problem"), $("problem-errors"), async () => {
    useSeedExample(await getJson("examples/seed"));
    document.body.dataset.example = "loaded";
  });
}

async function loadSeedExampleIfMissing() {
  if (document.body.dataset.example !== "loaded") await loadSeedExample();
}

start();
