// The load page's chart: the range (1 h, 24 h, 7 d or a custom UTC range), the
// chart and the depot's flags fetched together, and live extension: every card
// update from the subscription schedules a (debounced) refetch of the visible
// range when it reaches the present. The flags come with every refetch, so the
// page follows a flag change on its next one.

import { ApiError, gql } from "./api.js";
import { applyFlags } from "./card.js";
import { chartWidth, clearChart, renderChart, resizeChart, stepCursor } from "./chart.js";
import { MICROGRID_FIELDS, flagOn, flagListeners } from "./flags.js";
import { $ } from "./dom.js";
import { state } from "./state.js";

const DEBOUNCE_MS = 150;
const SLIDE_MS = 30000;
const SNAPSHOT_GRACE_MS = 2000;  // a relative range moves with the clock even with no update
const HOUR = 3600;

const page = { range: { seconds: 24 * HOUR }, sequence: 0, timer: null, inFlight: null,
               again: false, width: 0, fetchedAt: 0 };

const PIXELS_PER_POINT = 3;

function maxPoints() {
  return Math.min(5000, Math.max(10, Math.floor(chartWidth() / PIXELS_PER_POINT)));
}

/**
 * The range to ask for. A relative one is laid on a grid of whole buckets from
 * the epoch (its end up to one bucket, about 3 px, past now), so the buckets stay
 * the same from one refetch to the next and the lines do not shimmer as it slides.
 */
function visibleRange() {
  const points = maxPoints();
  if (!page.range.seconds) return { from: page.range.from, to: page.range.to, maxPoints: points };
  const now = Date.now() / 1000;
  const bucket = Math.max(1, Math.ceil(page.range.seconds / points));
  const from = Math.floor((now - page.range.seconds) / bucket) * bucket;
  const count = Math.min(5000, Math.ceil((now - from) / bucket));
  return { from: new Date(from * 1000), to: new Date((from + count * bucket) * 1000),
           maxPoints: Math.max(10, count) };
}

function showChartMessage(text) {
  $("chart-message").hidden = !text;
  $("chart-message").textContent = text || "";
}

/** Fetch the visible range and the depot's flags, and draw them. Never rejects:
 * a failure is shown above the chart, and the card and its live updates go on. */
export async function refreshChart() {
  if (!state.depotId) return;
  if (page.inFlight) {  // one request at a time; the newest wish is served after it
    page.again = true;
    return page.inFlight;
  }
  const sequence = ++page.sequence;
  const depotId = state.depotId;
  const { from, to, maxPoints: points } = visibleRange();
  if (!$("range-from").value) $("range-from").value = toInput(from);
  if (!$("range-to").value) $("range-to").value = toInput(to);
  page.width = chartWidth();
  page.fetchedAt = Date.now();
  // Two documents side by side: the card's capability sections follow the flag
  // even when the chart cannot be read.
  const current = () => sequence === page.sequence && depotId === state.depotId;
  const flags = gql("ConsoleDepotFlags", { depotId }).then((data) => {
    if (!current()) return;
    state.flags = data.featureFlags;
    applyFlags();
  });
  const chart = gql("ConsoleLoadChart", {
    depotId, from: from.toISOString(), to: to.toISOString(), maxPoints: points,
  });
  page.inFlight = Promise.all([chart, flags.catch(() => {})]).then(([data]) => {
    if (!current()) return;
    const result = data.loadChart;
    if (result.__typename !== "LoadChart") {
      const fields = (result.fieldErrors || []).map((e) => e.message).join("; ");
      showChartMessage(fields ? `${result.message} ${fields}` : result.message);
      return;
    }
    showChartMessage("");
    renderChart(result, flagOn(MICROGRID_FIELDS));
    $("chart").dataset.fetchedAt = new Date().toISOString();
  }).catch(reportChartError).finally(() => {
    page.inFlight = null;
    if (page.again) {
      page.again = false;
      refreshChart();
    }
  });
  return page.inFlight;
}

/** A card update arrived: refetch soon if the range is live. The snapshot that
 * opens a subscription right after the page's own fetch brings nothing new. */
export function scheduleChartRefresh(reason) {
  if (!page.range.seconds && page.range.to.getTime() < Date.now()) return;
  if (reason === "SNAPSHOT" && Date.now() - page.fetchedAt < SNAPSHOT_GRACE_MS) return;
  clearTimeout(page.timer);
  page.timer = setTimeout(refreshChart, DEBOUNCE_MS);
}

function reportChartError(error) {
  if (!(error instanceof ApiError)) console.error(error);  // a fault of the page itself
  showChartMessage(`The chart could not be loaded: ${error.message}`);
}

export function resetChart() {
  page.sequence += 1;
  state.flags = null;
  clearChart();
}

function pressed(button) {
  for (const b of document.querySelectorAll("#ranges [data-range]")) {
    b.setAttribute("aria-pressed", String(b === button));
  }
}

function fromInput(id) {
  const value = $(id).value;  // "YYYY-MM-DDTHH:MM[:SS]", read as UTC
  if (!value) return null;
  return new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
}

function toInput(date) {
  return date.toISOString().slice(0, 16);
}

function applyCustom(event) {
  event.preventDefault();
  const from = fromInput("range-from");
  const to = fromInput("range-to");
  if (!from || !to || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    showChartMessage("Choose both the start and the end of the range.");
    return;
  }
  if (to <= from) {
    showChartMessage("The end of the range must be after its start.");
    return;
  }
  page.range = { from, to };
  pressed(null);
  refreshChart();
}

export function setUpLoadPage() {
  for (const button of document.querySelectorAll("#ranges [data-range]")) {
    button.addEventListener("click", () => {
      page.range = { seconds: Number(button.dataset.range) };
      pressed(button);
      const { from, to } = visibleRange();
      $("range-from").value = toInput(from);
      $("range-to").value = toInput(to);
      refreshChart();
    });
  }
  $("range-form").addEventListener("submit", applyCustom);
  $("chart").addEventListener("keydown", stepCursor);
  flagListeners.push(refreshChart);
  setInterval(() => { if (page.range.seconds && state.depotId) scheduleChartRefresh(); }, SLIDE_MS);
  new ResizeObserver(() => {
    resizeChart();
    const width = chartWidth();
    if (page.width && Math.abs(width - page.width) / page.width > 0.2) scheduleChartRefresh();
  }).observe($("chart"));
}
