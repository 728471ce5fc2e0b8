// Try a photo: upload it with the profile being edited (or a saved one) and show what would be said.
"use strict";

const $ = (id) => document.getElementById(id);
const EDITED = "edited";
let speech = null;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

async function chosenProfile() {
  const choice = $("profile-choice").value;
  if (choice === EDITED) return sessionStorage.getItem("edited-profile");
  const response = await api(`/api/profiles/${encodeURIComponent(choice)}`);
  const result = await response.json();
  return JSON.stringify({ name: choice, document: result.document });
}

async function describe(event) {
  event.preventDefault();
  const photo = $("photo").files[0];
  const sentence = $("sentence");
  if (!photo) { sentence.textContent = "Choose a photo first."; sentence.className = "error"; return; }
  sentence.className = "";
  sentence.textContent = "Looking at the photo…";
  const form = new FormData();
  form.append("photo", photo);
  form.append("profile", await chosenProfile());
  const response = await api("/api/try", { form });
  let result;
  try { result = await response.json(); } catch { result = { error: `The server answered ${response.status}.` }; }
  speech = response.ok ? result.speech : null;
  $("play").disabled = !speech;
  if (!response.ok) {
    const problems = (result.problems || []).map((each) => each.text).join(" ");
    sentence.textContent = [result.error, problems].filter(Boolean).join(" ");
    sentence.className = "error";
    fatesTable([], $("table"));
    $("figure").hidden = true;
    return;
  }
  sentence.textContent = result.sentence;
  fatesTable(result.objects, $("table"));
  $("view").src = result.image;
  $("view").alt = `The photo, ${result.width} by ${result.height} pixels, with the detector's boxes. ${result.sentence}`;
  $("figure").hidden = false;
}

async function play() {
  const response = await api("/api/speak", { json: { speech } });
  if (!response.ok) return;
  const audio = $("audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(await response.blob());
  await audio.play().catch(() => {});
}

async function start() {
  const result = await (await api("/api/profiles")).json();
  const options = result.profiles.map((each) => element("option", { value: each.name }, `${each.name} (saved)`));
  const edited = sessionStorage.getItem("edited-profile");
  if (edited) options.unshift(element("option", { value: EDITED }, `${JSON.parse(edited).name} as edited (unsaved)`));
  $("profile-choice").replaceChildren(...options);
  $("profile-choice").value = edited ? EDITED : result.current;
  $("try-form").addEventListener("submit", describe);
  $("play").addEventListener("click", play);
}

document.addEventListener("DOMContentLoaded", () => start().catch((problem) => {
  $("sentence").textContent = `The page could not start: ${problem.message}`;
}));
