// The profile editor: a form made from the profile's JSON schema, checked by the server in
// `profiles check`'s words, previewed on the current frame, and saved in place.
"use strict";

const $ = (id) => document.getElementById(id);
let schema = null;      // the profile's JSON schema, from /api/schema
let loaded = null;      // the profile as read: {name, writable, document, inherited}
let classes = [];       // the model's classes in the profile's language: [{label, name}]
let fields = new Map(); // key path (joined) -> {path, kind, input, error}
let speech = null;      // the previewed sentence's id, for Play
let counter = 0;

const KEY = (path) => path.join("\u0001");
const UNITS = { s: "seconds", m: "metres", deg: "degrees" };

function title(key) {
  const parts = key.split("_");
  const unit = UNITS[parts[parts.length - 1]];
  if (unit) parts.pop();
  const words = parts.join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1) + (unit ? ` (${unit})` : "");
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

// The schema of a property, with $ref followed and an optional (anyOf with null) unwrapped.
function resolve(property) {
  let found = property;
  if (found.anyOf) found = found.anyOf.find((each) => each.type !== "null") || {};
  if (found.$ref) found = schema.$defs[found.$ref.split("/").pop()];
  return { ...found, description: property.description || found.description, default: property.default };
}

function valueAt(object, path) {
  return path.reduce((node, key) => (node && typeof node === "object" ? node[key] : undefined), object);
}

function shown(value) {
  if (value === true) return "yes";
  if (value === false) return "no";
  return value === undefined || value === null ? "" : String(value);
}

// One labelled control for a scalar setting, with its help text and a place for its error.
function control(path, property, parent) {
  const spec = resolve(property);
  const id = `f${++counter}`;
  const wrap = element("div", { class: "field" });
  wrap.append(element("label", { for: id }, title(path[path.length - 1])));
  const fallback = valueAt(loaded.inherited, path) ?? spec.default;
  let input, kind;
  if (spec.enum || spec.type === "boolean") {
    kind = spec.type === "boolean" ? "boolean" : "enum";
    input = element("select", { id });
    const unset = fallback === undefined || fallback === null ? "not set" : `not set: ${shown(fallback)}`;
    input.append(element("option", { value: "" }, `(${unset})`));
    for (const option of spec.enum || [true, false]) input.append(element("option", { value: String(option) }, shown(option)));
  } else {
    kind = spec.type === "integer" || spec.type === "number" ? spec.type : "string";
    input = element("input", { id, type: kind === "string" ? "text" : "number", autocomplete: "off" });
    if (kind !== "string") {
      input.step = kind === "integer" ? "1" : "any";
      input.inputMode = kind === "integer" ? "numeric" : "decimal";
    }
    if (spec.maxLength) input.maxLength = spec.maxLength;
    if (fallback !== undefined && fallback !== null) input.placeholder = shown(fallback);
  }
  const own = valueAt(loaded.document, path);
  input.value = own === undefined || own === null ? "" : String(own);
  const described = [];
  if (spec.description) {
    const help = element("p", { class: "help", id: `${id}-help` }, spec.description);
    wrap.append(help);
    described.push(help.id);
  }
  const error = element("p", { class: "error", id: `${id}-error` });
  described.push(error.id);
  input.setAttribute("aria-describedby", described.join(" "));
  wrap.insertBefore(input, wrap.children[1] || null);
  wrap.append(error);
  parent.append(wrap);
  fields.set(KEY(path), { path, kind, input, error });
}

// A fieldset for a group of settings (voice, camera, defaults), or the objects' editor.
function group(path, properties, parent) {
  const box = element("div", { class: "grid" });
  parent.append(box);
  for (const [key, property] of Object.entries(properties)) {
    const spec = resolve(property);
    if (key === "objects") objectsEditor(parent, spec);
    else if (spec.type === "object" && spec.properties) {
      const set = element("fieldset");
      set.append(element("legend", {}, title(key)));
      if (spec.description) set.append(element("p", { class: "help" }, spec.description));
      group([...path, key], spec.properties, set);
      parent.append(set);
    } else control([...path, key], property, box);
  }
}

function className(label) {
  const found = classes.find((each) => each.label === label);
  return found && found.name !== label ? `${found.name} (${label})` : label;
}

function objectsEditor(parent, spec) {
  const set = element("fieldset", { id: "objects" });
  set.append(element("legend", {}, "Objects"));
  set.append(element("p", { class: "help" }, "The classes the assistant speaks about; open one to change its settings. Anything left empty comes from Defaults."));
  const list = element("div", { id: "object-list" });
  set.append(list);
  const own = Object.keys(loaded.document.objects || {});
  const inherited = Object.keys(loaded.inherited.objects || {}).filter((label) => !own.includes(label));
  for (const label of [...own, ...inherited]) addObject(list, label, spec, !own.includes(label));
  const row = element("div", { class: "row" });
  row.append(element("label", { for: "add-class" }, "Add an object"));
  const choice = element("select", { id: "add-class" });
  row.append(choice);
  const add = element("button", { type: "button", class: "secondary", id: "add-object" }, "Add");
  add.addEventListener("click", () => {
    if (!choice.value) return;
    const details = addObject(list, choice.value, spec, false);
    details.open = true;
    fillClassChoice();
    details.querySelector("input, select").focus();
    changed();
  });
  row.append(add);
  set.append(row);
  parent.append(set);
  fillClassChoice();
}

function fillClassChoice() {
  const choice = $("add-class");
  if (!choice) return;
  const chosen = new Set(objectLabels());
  choice.replaceChildren(...classes.filter((each) => !chosen.has(each.label))
    .map((each) => element("option", { value: each.label }, className(each.label))));
}

function objectLabels() {
  return [...document.querySelectorAll("#object-list details")].map((each) => each.dataset.label);
}

function addObject(list, label, spec, inheritedOnly) {
  const details = element("details", { "data-label": label });
  if (inheritedOnly) details.dataset.inherited = "true";
  const summary = element("summary", {}, className(label) + (inheritedOnly ? " — from the profile it extends" : ""));
  summary.append(element("span", { class: "muted gist" }));
  details.append(summary);
  const box = element("div");
  for (const [key, property] of Object.entries(spec.additionalProperties.$ref
    ? schema.$defs[spec.additionalProperties.$ref.split("/").pop()].properties : {})) {
    control(["objects", label, key], property, box);
  }
  if (!inheritedOnly) {
    const remove = element("button", { type: "button", class: "secondary" }, `Remove ${label}`);
    remove.addEventListener("click", () => {
      for (const key of [...fields.keys()]) if (fields.get(key).path[1] === label && fields.get(key).path[0] === "objects") fields.delete(key);
      details.remove();
      fillClassChoice();
      $("add-class").focus();
      changed();
    });
    box.append(remove);
  }
  details.append(box);
  list.append(details);
  gist(details);
  return details;
}

// The summary's gist of an object's settings: "priority 9, hazard", as edited or inherited.
function gist(details) {
  const label = details.dataset.label;
  const value = (key) => {
    const field = fields.get(KEY(["objects", label, key]));
    const typedValue = field ? typed(field) : undefined;
    return typedValue !== undefined ? typedValue : valueAt(loaded.inherited, ["objects", label, key]);
  };
  const parts = [];
  if (value("priority") !== undefined) parts.push(`priority ${value("priority")}`);
  if (value("hazard") === true) parts.push("hazard");
  if (value("spoken_name")) parts.push(`said as “${value("spoken_name")}”`);
  details.querySelector(".gist").textContent = parts.length ? `— ${parts.join(", ")}` : "";
}

function setAt(object, path, value) {
  let node = object;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== "object" || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key];
  }
  if (value === undefined) delete node[path[path.length - 1]];
  else node[path[path.length - 1]] = value;
}

function typed(field) {
  const { input, kind } = field;
  if (kind !== "string" && input.validity && input.validity.badInput) return "not a number";
  if (input.value === "") return undefined;
  if (kind === "boolean") return input.value === "true";
  if (kind === "integer" || kind === "number") return Number(input.value);
  return input.value;
}

// The edited document: the file's own settings with every control's value written over them.
function edited() {
  const document_ = structuredClone(loaded.document);
  const objects = {};
  for (const label of objectLabels()) {
    const before = (loaded.document.objects || {})[label];
    const inheritedOnly = document.querySelector(`#object-list details[data-label="${CSS.escape(label)}"]`).dataset.inherited;
    if (!inheritedOnly) objects[label] = typeof before === "object" && before !== null ? structuredClone(before) : {};
  }
  document_.objects = objects;
  for (const field of fields.values()) {
    const value = typed(field);
    if (field.path[0] === "objects" && !(field.path[1] in objects)) {
      if (value === undefined) continue;
      objects[field.path[1]] = {};
    }
    setAt(document_, field.path, value);
  }
  for (const key of ["voice", "camera", "defaults"]) {
    if (document_[key] && Object.keys(document_[key]).length === 0 && !(key in loaded.document)) delete document_[key];
  }
  sessionStorage.setItem("edited-profile", JSON.stringify({ name: loaded.name, document: document_ }));
  return document_;
}

function showProblems(result) {
  const problems = result.problems || [];
  for (const field of fields.values()) {
    field.input.removeAttribute("aria-invalid");
    field.error.textContent = "";
  }
  const summary = $("summary");
  summary.replaceChildren();
  if (!problems.length) return;
  summary.append(element("p", { class: "error" }, result.error || "The profile has problems."));
  const list = element("ul");
  for (const problem of problems) {
    const field = fields.get(KEY(problem.loc));
    const item = element("li");
    if (field) {
      field.input.setAttribute("aria-invalid", "true");
      field.error.textContent = problem.message;
      const details = field.input.closest("details");
      if (details) details.open = true;
      const link = element("a", { href: `#${field.input.id}` }, problem.text);
      link.addEventListener("click", (event) => { event.preventDefault(); field.input.focus(); });
      item.append(link);
    } else item.textContent = problem.text;
    list.append(item);
  }
  summary.append(list);
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function answer(response) {
  try { return await response.json(); } catch { return { error: `The server answered ${response.status}.` }; }
}

async function check() {
  const response = await api(`/api/profiles/${encodeURIComponent(loaded.name)}/check`, { json: { document: edited() } });
  const result = await answer(response);
  showProblems(result);
  return response.ok && result.ok;
}

let timer = null;
function changed() {
  document.querySelectorAll("#object-list details").forEach(gist);
  clearTimeout(timer);
  timer = setTimeout(check, 400);
}

async function save(event) {
  event.preventDefault();
  const name = $("save-name").value.trim();
  const response = await api(`/api/profiles/${encodeURIComponent(name)}`, { method: "PUT", json: { document: edited() } });
  const result = await answer(response);
  if (response.status === 422) {
    showProblems(result);
    say("Not saved: the profile has the problems listed below.", true);
    return;
  }
  if (!response.ok) { say(result.error, true); return; }
  await listProfiles(result.saved);
  await open(result.saved, true);
  say(`Saved ${result.saved}. A running assistant uses it within a second.`);
  $("save").focus();
}

async function undo() {
  const response = await api(`/api/profiles/${encodeURIComponent(loaded.name)}/undo`, { method: "POST" });
  const result = await answer(response);
  if (!response.ok) { say(result.error, true); return; }
  const name = loaded.name;
  await listProfiles(name);
  await open(name, true);
  say(`Put back ${name} as it was before the last save.`);
  $("save").focus();
}

async function preview() {
  const response = await api("/api/preview", { json: { name: loaded.name, document: edited() } });
  const result = await answer(response);
  speech = response.ok ? result.speech : null;
  $("play").disabled = !speech;
  if (response.status === 422) showProblems(result);
  $("sentence").textContent = response.ok ? result.sentence : result.error;
  $("sentence").className = response.ok ? "" : "error";
  fatesTable(response.ok ? result.objects : [], $("preview-table"));
}

async function play() {
  const response = await api("/api/speak", { json: { speech } });
  if (!response.ok) { say((await answer(response)).error, true); return; }
  const audio = $("audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(await response.blob());
  await audio.play().catch(() => say("The browser would not play the sound; press Play again.", true));
}

async function loadClasses(code) {
  const response = await api(`/api/classes?language=${encodeURIComponent(code || "en")}`);
  if (response.ok) classes = (await response.json()).classes;
}

async function listProfiles(selected) {
  const result = await (await api("/api/profiles")).json();
  const select = $("profile-name");
  select.replaceChildren(...result.profiles.map((each) =>
    element("option", { value: each.name }, each.name + (each.writable ? "" : " (shipped, read-only)"))));
  select.value = selected || result.current;
  return result;
}

async function open(name, keepStatus = false) {
  const response = await api(`/api/profiles/${encodeURIComponent(name)}`);
  const result = await answer(response);
  if (!response.ok) { say(result.error, true); return; }
  loaded = result;
  await loadClasses(loaded.document.language || loaded.inherited.language);
  fields = new Map();
  const holder = $("fields");
  holder.replaceChildren();
  group([], schema.properties, holder);
  $("save-name").value = loaded.writable ? loaded.name : "";
  $("undo").disabled = !loaded.undo;
  showProblems({});
  if (!keepStatus) say(`Opened ${name}${loaded.writable ? "" : "; it is read-only here, so save it under a new name"}.`);
  document.title = `Profile ${name} – assistant`;
}

async function start() {
  schema = await (await api("/api/schema")).json();
  const listing = await listProfiles();
  await open(listing.current);
  $("open").addEventListener("click", () => open($("profile-name").value));
  $("fields").addEventListener("change", (event) => {
    if (event.target.id === "add-class") return;
    const path = [...fields.values()].find((each) => each.input === event.target);
    if (path && KEY(path.path) === "language") loadClasses(event.target.value).then(fillClassChoice);
    changed();
  });
  $("editor").addEventListener("submit", save);
  $("check").addEventListener("click", check);
  $("undo").addEventListener("click", undo);
  $("preview").addEventListener("click", preview);
  $("play").addEventListener("click", play);
}

document.addEventListener("DOMContentLoaded", () => start().catch((problem) => say(`The page could not start: ${problem.message}`, true)));
