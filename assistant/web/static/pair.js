// The pair page: sends the code the assistant said, or asks it to say a new one.
"use strict";

async function postJson(path, json) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(json),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { /* an empty or non-JSON answer */ }
  return { ok: response.ok, data };
}

function showError(text) {
  const error = document.getElementById("pair-error");
  const input = document.getElementById("code");
  error.textContent = text;
  input.setAttribute("aria-invalid", text ? "true" : "false");
  if (text) input.setAttribute("aria-describedby", "pair-error code-help");
  else input.setAttribute("aria-describedby", "code-help");
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("pair-form");
  const input = document.getElementById("code");
  const status = document.getElementById("pair-status");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) {
      showError("Type the six digits of the code.");
      input.focus();
      return;
    }
    const { ok, data } = await postJson("/api/pair", { code });
    if (ok) {
      showError("");
      status.textContent = "Paired. Opening the page…";
      window.location.replace("/");
    } else {
      showError(data.error || "Pairing failed; try again.");
      input.focus();
    }
  });

  document.getElementById("new-code").addEventListener("click", async () => {
    const { ok, data } = await postJson("/api/pair/new", {});
    if (ok) {
      showError("");
      status.textContent = "The assistant is saying a new code.";
    } else {
      showError(data.error || "Could not ask for a new code.");
    }
  });
});
