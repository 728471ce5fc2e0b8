// The per-object table both the editor's preview and the photo try-out show: every box the detector
// reported with its fate; the faint ones (under CLEAR and not kept) folded away under a disclosure.
"use strict";

function tag(name, attributes = {}, text = "") {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

const CLEAR = 0.2; // boxes under this score (and not kept) are listed apart, under a disclosure

function grid(rows, caption) {
  const table = tag("table");
  table.append(tag("caption", {}, caption));
  const head = tag("tr");
  for (const name of ["Object", "Score", "Fate", "Why", "Where", "Distance"]) head.append(tag("th", { scope: "col" }, name));
  table.appendChild(tag("thead")).append(head);
  const body = table.appendChild(tag("tbody"));
  for (const row of rows) {
    const line = body.appendChild(tag("tr"));
    for (const value of [row.name === row.label ? row.label : `${row.name} (${row.label})`, row.score, row.fate, row.reason, row.direction, row.distance]) {
      line.append(tag("td", {}, value));
    }
  }
  const wrap = tag("div", { class: "table-wrap" });
  wrap.append(table);
  return wrap;
}

function fatesTable(rows, parent) {
  parent.replaceChildren();
  if (!rows.length) return;
  const clear = rows.filter((row) => Number(row.score) >= CLEAR || ["spoken", "accepted"].includes(row.fate));
  const faint = rows.filter((row) => !clear.includes(row));
  parent.append(grid(clear, "What the detector reported, and what became of it"));
  if (faint.length) {
    const more = tag("details");
    more.append(tag("summary", {}, `${faint.length} fainter boxes, under ${CLEAR.toFixed(2)}`));
    more.append(grid(faint, `Boxes scored under ${CLEAR.toFixed(2)}`));
    parent.append(more);
  }
}

