// The service's API, called with relative URLs so that the page works wherever the service is
// mounted: GET examples/seed; POST gradients, gradients/check and train.

/** A refusal by the service: `detail` is its list of {type, loc, msg}. */
export class ApiError extends Error {
  constructor(detail) {
    super("the service refused the request");
    this.detail = detail;
  }
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new ApiError(answer.detail);
  return answer;
}
