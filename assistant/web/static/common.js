// Shared by every page: asks for a session once, then sends its CSRF token with every change.
"use strict";

let csrfToken = null;

async function session() {
  if (csrfToken === null) {
    const response = await fetch("/api/session", { credentials: "same-origin" });
    if (!response.ok) throw new Error("No session: " + response.status);
    csrfToken = (await response.json()).csrf;
  }
  return csrfToken;
}

// api(path, {method, json, form}): a same-origin request with the session's CSRF token.
async function api(path, options = {}) {
  const method = options.method || (options.json !== undefined || options.form ? "POST" : "GET");
  const headers = { "X-CSRF-Token": await session() };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  return fetch(path, { method, headers, body, credentials: "same-origin" });
}
