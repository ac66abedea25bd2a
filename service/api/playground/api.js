// The service's API, called with relative URLs so that the page works wherever the service is
// mounted: GET examples/seed; POST gradients, gradients/check and train. Every call carries the
// API key, when one is given, as the X-API-Key header.

const KEY_HEADER = "X-API-Key";
const KEY_STORAGE = "gradient-service.api-key"; // sessionStorage: this tab only, never saved
const JSON_TYPE = "application/json";

/** A refusal by the service: `detail`, its list of {type, loc, msg}, and the HTTP status (none
 * for an error line in a stream). */
export class ApiError extends Error {
  constructor(detail, status) {
    super("the service refused the request");
    this.detail = detail;
    this.status = status;
  }

  get unauthorized() {
    return this.status === 401;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** fetch(path) with the key and a JSON body, if any; an answer other than 2xx is thrown. */
export async function call(path, { method = "GET", body, accept = JSON_TYPE, signal } = {}) {
  const headers = { accept };
  if (body !== undefined) headers["content-type"] = JSON_TYPE;
  if (apiKey()) headers[KEY_HEADER] = apiKey();
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw new ApiError((await response.json()).detail, response.status);
  return response;
}

export async function getJson(path) {
  return (await call(path)).json();
}

export async function post(path, body) {
  return (await call(path, { method: "POST", body })).json();
}
