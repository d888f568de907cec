// Small DOM helpers shared by the console's modules.

export const $ = (id) => document.getElementById(id);

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function item(text) { return el("li", {}, text); }

export function fmt(value, unit) {
  return value === null || value === undefined ? "unknown" : `${Number(value).toLocaleString("en")}${unit}`;
}
