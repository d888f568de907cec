// The Microgrid card: one box per capability type, as the card lists them,
// then the power sources and the capacity of each grid connection.

import { gql } from "./api.js";
import { $, el, fmt, item } from "./dom.js";
import { MICROGRID_FIELDS, flagOn } from "./flags.js";
import { state } from "./state.js";

// Display names; a capability type without one is shown by its name.
const TITLES = { PEAK_SHAVING: "Peak shaving", DER: "DER export limiting" };

const MARKERS = { FRESH: ["fresh", "✓ Fresh"], STALE: ["stale", "⚠ Stale"],
                  NEVER_REPORTED: ["never", "— Never reported"] };

const CAPACITY_SOURCES = { CONTROLLER_AVAILABLE: "controller, available capacity",
                           CONTROLLER_FAIL_SAFE: "controller fail-safe capacity",
                           CONFIGURED_SAFE: "configured safe capacity" };

/** A capability's display name. */
export function capabilityTitle(capability) {
  return TITLES[capability] || capability;
}

/** The card's capability sections are microgrid fields: shown with the rollout flag on. */
export function applyFlags() {
  $("capabilities").hidden = !flagOn(MICROGRID_FIELDS);
}

export async function refreshCard() {
  const data = await gql("ConsoleCard", { depotId: state.depotId });
  const result = data.microgridCard;
  if (result.__typename !== "MicrogridCard") {
    showCardMessage(result.message);
    return;
  }
  renderCard(result);
}

export function showCardMessage(message) {
  $("card").hidden = true;
  $("card-empty").hidden = false;
  $("card-empty").textContent = message;
}

export function renderCard(card) {
  state.card = card;
  $("card-empty").hidden = true;
  $("card").hidden = false;
  $("revision").textContent = String(card.revision);
  renderCapabilities(card.capabilities);
  applyFlags();
  $("power-sources").replaceChildren(...(card.powerSources.length ? card.powerSources.map((p) =>
    item(`${p.name} (${p.kind.toLowerCase()}): SOC ${fmt(p.socPercent, "%")}, mode ` +
         `${p.operationalMode || "unknown"}, power ${p.powerState || "unknown"}, load ` +
         `${fmt(p.loadW, " W")}`)) : [item("No local power source at this depot.")]));
  $("capacity").replaceChildren(...card.gridConnections.map((g) => {
    const c = g.circuit;
    if (!c) return item(`${g.name}: circuit missing (drift)`);
    const source = CAPACITY_SOURCES[c.capacitySource] || "not set";
    return item(`${c.name}: effective ${fmt(c.effectiveCapacityW, " W")} — ${source}` +
                (c.heartbeatStatus ? `, heartbeat ${c.heartbeatStatus.toLowerCase()}` : ""));
  }));
  tick();
}

function renderCapabilities(statuses) {
  // A box keeps its element from one update to the next; only its content changes.
  const boxes = statuses.map((status) => {
    const box = $(`cap-${status.capability}`)
      || el("article", { class: "capability", id: `cap-${status.capability}` });
    fillCapability(box, status);
    return box;
  });
  $("capabilities").replaceChildren(...boxes);
}

function fillCapability(box, status) {
  const marker = MARKERS[status.freshness];
  const observed = status.observedAt ? new Date(status.observedAt) : null;
  const title = capabilityTitle(status.capability);
  box.dataset.freshness = status.freshness;
  box.dataset.status = status.status;
  box.innerHTML = "";
  box.append(el("h3", {}, `${title} (${status.capability})`),
             el("p", { class: "status", "data-role": "status" }, status.status),
             el("span", { class: `marker ${marker[0]}`, "data-role": "marker" }, marker[1]));
  if (observed) {
    const ago = el("button", { class: "ago", type: "button", "data-observed": status.observedAt,
                               title: `Observed ${observed.toISOString()}`,
                               "aria-expanded": "false" }, "");
    const detail = el("p", { class: "observed", hidden: "" },
                      `Observed ${observed.toISOString()}; stale after ` +
                      `${status.staleAfterSeconds} s (at ${new Date(status.staleAt).toISOString()})`);
    ago.addEventListener("click", () => {
      detail.hidden = !detail.hidden;
      ago.setAttribute("aria-expanded", String(!detail.hidden));
    });
    box.append(ago, detail);
  }
}

export function tick() {
  for (const node of document.querySelectorAll("[data-observed]")) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(node.dataset.observed)) / 1000));
    node.textContent = `updated ${seconds} s ago`;
  }
}
