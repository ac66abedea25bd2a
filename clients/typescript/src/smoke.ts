// POST /gradients and /gradients/check with types generated from the service's OpenAPI spec
// (openapi-typescript): a body or an answer field the spec lacks does not compile.
import type { components, paths } from "./schema";

type Body<P extends keyof paths> = paths[P] extends { post: { requestBody?: { content: { "application/json": infer B } } } } ? B : never;
type Answer<P extends keyof paths> = paths[P] extends { post: { responses: { 200: { content: { "application/json": infer A } } } } } ? A : never;
type Errors = components["schemas"]["ErrorResponse"];

const base = process.env.GRADIENT_SERVICE_URL ?? "http://127.0.0.1:8000";

async function post<P extends "/gradients" | "/gradients/check">(path: P, body: Body<P>): Promise<{ status: number; json: unknown }> {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

const first = await post("/gradients", {});
const gradients = first.json as Answer<"/gradients">;

const wrong = structuredClone(gradients.gradients);
(wrong["0.weight"] as number[][])[3][1] += 0.5; // a planted mistake
const checked = await post("/gradients/check", { candidate: { gradients: wrong } });
const report = (checked.json as Answer<"/gradients/check">).report;

const refused = await post("/gradients", { x: [0.5, -1.0, 2.0] });
const errors = refused.json as Errors;

console.log(JSON.stringify({
  loss: gradients.loss,
  agree: gradients.agree,
  verdict: report.verdict,
  wrong: report.gradients["0.weight"]?.mismatches?.map((m) => m.index),
  diagnosis: report.diagnoses[0]?.kind,
  refused: refused.status,
  loc: errors.detail[0]?.loc,
}));
