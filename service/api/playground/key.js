// The API key field. A service started with GRADIENT_SERVICE_API_KEY answers 401 to any call
// without the header X-API-Key; the key typed here is kept for this tab only (sessionStorage:
// never localStorage, never the URL) and api.js sends it with every call.

import { apiKey, setApiKey } from "./api.js";
import { $ } from "./dom.js";

/** Show the stored key (a reload keeps it) and store each edit; `onChange` runs once one is done. */
export function setUpKeyField(onChange) {
  const input = $("api-key");
  input.value = apiKey();
  input.addEventListener("input", () => {
    setApiKey(input.value.trim());
    clearKeyProblem();
  });
  input.addEventListener("change", onChange);
}

/** After a 401: say, next to the field, that the service wants a key or refused this one. */
export function showKeyProblem() {
  const input = $("api-key");
  input.setAttribute("aria-invalid", "true");
  $("api-key-message").textContent = apiKey()
    ? "The service refused this API key (401 Unauthorized): check it and try again."
    : "This service needs an API key (401 Unauthorized): type it here and try again.";
}

export function clearKeyProblem() {
  $("api-key").removeAttribute("aria-invalid");
  $("api-key-message").textContent = "";
}
