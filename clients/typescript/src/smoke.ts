// POST /gradients and /gradients/check through a client typed by the service's OpenAPI spec:
// openapi-typescript generates src/schema.d.ts, openapi-fetch makes the calls. A path, a body
// field or an answer field the spec lacks does not compile.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

const client = createClient<paths>({
  baseUrl: process.env.GRADIENT_SERVICE_URL ?? "http://127.0.0.1:8000",
});

const first = await client.POST("/gradients", { body: {} }); // {}: the seed example
if (first.data === undefined) throw new Error(`POST /gradients: ${first.response.status}`);

const wrong = structuredClone(first.data.gradients);
(wrong["0.weight"] as number[][])[3][1] += 0.5; // a planted mistake
const checked = await client.POST("/gradients/check", { body: { candidate: { gradients: wrong } } });
if (checked.data === undefined) throw new Error(`POST /gradients/check: ${checked.response.status}`);
const report = checked.data.report;

const refused = await client.POST("/gradients", { body: { x: [0.5, -1.0, 2.0] } });

console.log(JSON.stringify({
  loss: first.data.loss,
  agree: first.data.agree,
  verdict: report.verdict,
  wrong: report.gradients["0.weight"]?.mismatches?.map((m) => m.index),
  diagnosis: report.diagnoses[0]?.kind,
  refused: refused.response.status,
  loc: refused.error?.detail[0]?.loc,
}));
