// The live view: polls the debug view (a few frames a second, one request at a time, as blob
// URLs so no frame is cached) and the status with the sentences said; sends the buttons' commands.
"use strict";

const FRAME_MS = 250; // at most 4 images a second; the server caps its drawing at 5
const LIVE_MS = 1000;
const MAX_SHOWN = 100; // sentences kept in the log
const FIRST_SHOWN = 10; // sentences shown when the page opens, so a screen reader is not flooded

let lastSeq = 0;
let lastIndex = null;
let stopped = false;

const $ = (id) => document.getElementById(id);

function problem(text) {
  const box = $("problem");
  box.textContent = text;
  box.hidden = !text;
}

async function errorOf(response) {
  try {
    return (await response.json()).error || `The assistant answered ${response.status}.`;
  } catch {
    return `The assistant answered ${response.status}.`;
  }
}

function stop(text) {
  stopped = true;
  problem(text);
  $("live").hidden = true;
}

function later(fn, ms) {
  if (!stopped) setTimeout(fn, ms);
}

async function pollFrame() {
  const started = performance.now();
  if (!document.hidden) {
    try {
      const response = await fetch("/api/frame.jpg", { cache: "no-store", credentials: "same-origin" });
      if (response.status === 409) return stop(await errorOf(response));
      const index = response.headers.get("X-Frame-Index");
      if (response.status === 200 && index !== lastIndex) {
        lastIndex = index;
        const img = $("view");
        const old = img.src;
        img.src = URL.createObjectURL(await response.blob());
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      }
    } catch {
      // The next poll tries again; the status poll says when the assistant is gone.
    }
  }
  later(pollFrame, Math.max(0, FRAME_MS - (performance.now() - started)));
}

function inView(items) {
  if (!items.length) return "Camera view: nothing the profile speaks about is in view.";
  return "Camera view: " + items.map((i) => `${i.count} ${i.label}`).join(", ") + ".";
}

function showStatus(s) {
  const camera = $("s-camera");
  camera.textContent = s.camera === "lost" ? `lost: no frame for ${Math.round(s.since_frame_s)} s`
    : s.camera === "waiting" ? "waiting for the first frame" : s.covered ? "covered" : "working";
  camera.className = s.camera === "lost" || s.covered ? "alert" : "";
  $("s-speech").textContent = s.paused ? "paused" : s.covered ? "paused while the camera is covered" : "on";
  $("s-fps").textContent = s.fps === null ? "-" : s.fps + (s.max_fps ? ` (cap ${s.max_fps})` : "");
  $("s-age").textContent = s.frame_age_ms === null ? "-" : `${s.frame_age_ms} ms`;
  $("s-dropped").textContent = String(s.dropped);
  $("s-profile").textContent = s.profile;
  $("s-language").textContent = s.language;
  $("s-model").textContent = s.model;
  $("s-calibration").textContent = s.calibration;
  document.querySelector('button[data-command="pause"]').setAttribute("aria-pressed", String(s.paused));
  const img = $("view");
  const alt = s.camera === "ok" ? inView(s.in_view) : camera.textContent;
  if (img.alt !== alt) img.alt = alt;
}

function addSentences(sentences) {
  const log = $("sentences");
  const shown = lastSeq === 0 ? sentences.slice(-FIRST_SHOWN) : sentences;
  for (const s of shown) {
    const p = document.createElement("p");
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${new Date(s.time * 1000).toLocaleTimeString()} · ${s.kind} · ${s.priority_name}`;
    p.append(meta, document.createTextNode(s.text));
    p.lang = s.language;
    log.append(p);
  }
  while (log.childElementCount > MAX_SHOWN) log.firstElementChild.remove();
  if (sentences.length) {
    lastSeq = sentences[sentences.length - 1].seq;
    log.scrollTop = log.scrollHeight;
  }
}

async function pollLive() {
  try {
    const response = await fetch(`/api/live?after=${lastSeq}`, { cache: "no-store", credentials: "same-origin" });
    if (response.status === 409) return stop(await errorOf(response));
    if (!response.ok) throw new Error(await errorOf(response));
    const data = await response.json();
    problem("");
    showStatus(data.status);
    addSentences(data.sentences);
  } catch (error) {
    problem(error instanceof TypeError ? "The assistant is not answering; is it still running?" : error.message);
  }
  later(pollLive, LIVE_MS);
}

async function send(button) {
  const result = $("command-result");
  result.textContent = ""; // so the same answer twice is announced twice
  try {
    const response = await api("/api/command", { json: { command: button.dataset.command } });
    result.className = response.ok ? "" : "error";
    result.textContent = response.ok ? `Sent: ${(await response.json()).done}.` : await errorOf(response);
  } catch {
    result.className = "error";
    result.textContent = "The command was not sent: the assistant is not answering.";
  }
}

document.querySelectorAll("button[data-command]").forEach((button) => {
  button.addEventListener("click", () => send(button));
});
pollLive();
pollFrame();
