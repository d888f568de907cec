// Feature flags as the API evaluates them for the chosen depot (refetched with
// the chart), and System Admin's flags panel: every flag's global value and its
// value for the depot, each with its source, set on / off / clear.

import { gql } from "./api.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

/** The rollout flag of the load page's microgrid fields. */
export const MICROGRID_FIELDS = "new-microgrid-fields-load-chart";

const SOURCES = { DEFAULT: "built-in default", GLOBAL: "global setting", DEPOT: "depot setting" };

/** Whether the flag is on for the chosen depot (off until the flags are known). */
export function flagOn(key) {
  const flag = (state.flags || []).find((f) => f.key === key);
  return Boolean(flag && flag.enabled);
}

function describe(flag) {
  return `${flag.enabled ? "On" : "Off"} (${SOURCES[flag.source] || flag.source})`;
}

export async function loadFlags() {
  const data = await gql("ConsoleFlags", { depotId: state.depotId });
  const depot = new Map(data.depot.map((f) => [f.key, f]));
  const rows = data.global.map((flag) => {
    const here = depot.get(flag.key);
    return el("tr", { "data-flag": flag.key },
      el("td", {}, el("code", {}, flag.key), el("br"), el("span", { class: "muted small" }, flag.description)),
      el("td", { "data-scope": "global" }, el("span", { "data-role": "value" }, describe(flag)),
         el("br"), choices(flag.key, null)),
      el("td", { "data-scope": "depot" },
         el("span", { "data-role": "value" }, here ? describe(here) : "—"),
         el("br"), choices(flag.key, state.depotId)));
  });
  $("flags").tBodies[0].replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No feature flags."))]));
}

function choices(key, depotId) {
  const scope = depotId ? "depot" : "global";
  return el("span", { class: "choices" }, ...[["On", true], ["Off", false], ["Clear", null]].map(
    ([text, enabled]) => {
      const button = el("button", { type: "button", "data-set": String(enabled),
                                    "aria-label": `${text}: ${key}, ${scope}` }, text);
      button.addEventListener("click", () => setFlag(key, enabled, depotId));
      return button;
    }));
}

/** Listeners told after a flag changed here, so the page follows without waiting. */
export const flagListeners = [];

async function setFlag(key, enabled, depotId) {
  $("flags-error").textContent = "";
  const input = depotId ? { key, enabled, depotId } : { key, enabled };
  const { result } = await gql("ConsoleSetFlag", { input });
  if (result.__typename !== "FeatureFlag") {
    const fields = (result.fieldErrors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
    $("flags-error").textContent = fields ? `${result.message} ${fields}` : result.message;
    return;
  }
  await loadFlags();
  for (const listener of flagListeners) listener();
}
