// The load chart, drawn with uPlot (vendored): load and SOC lines (SOC on its
// own % axis), each circuit's capacities as step lines, and — with the
// microgrid fields on — the fail-safe / configured-safe spans shaded and a band
// per capability (ON / OFF / UNKNOWN, stale spans hatched). Every kind differs
// by dash, pattern or text as well as colour; a read-out gives exact values.

import uPlot from "./vendor/uplot/uPlot.esm.js";
import { capabilityTitle } from "./card.js";
import {
  KINDS, SHADED_SOURCES, latestValueAt, newestReadings, spanAt, toPlotData,
} from "./chart-data.js";
import { $, el } from "./dom.js";

const PALETTE = ["#1f5fbf", "#b4361c", "#287a3a", "#7b3fa0", "#8a6d00", "#0f7c86", "#5b6470"];
const SVG = "http://www.w3.org/2000/svg";

const chart = { plot: null, keys: "", data: null, overlays: true, narrow: false };
const NARROW = 520;  // below this the axes drop their titles and the shading its labels

/** The chart's width in CSS pixels, which sets how many points to ask for. */
export function chartWidth() {
  return Math.max(200, $("chart").clientWidth || 0);
}

function height(width) {
  return width < NARROW ? 240 : 320;
}

export function utc(secondsSinceEpoch) {
  return new Date(secondsSinceEpoch * 1000).toISOString().replace("T", " ")
    .replace(/\.000Z$/, "Z").replace(/Z$/, " UTC");
}

function number(value, unit) {
  if (value === null || value === undefined) return "no reading";
  const digits = unit === "%" ? 1 : 0;
  return `${value.toLocaleString("en", { maximumFractionDigits: digits })} ${unit}`;
}

function watts(value) {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(2)} MW`;
  if (abs >= 1e3) return `${+(value / 1e3).toFixed(1)} kW`;
  return `${value} W`;
}

function colours(series) {
  const subjects = [...new Set(series.map((s) => s.subjectId))];
  return (s) => PALETTE[subjects.indexOf(s.subjectId) % PALETTE.length];
}

/**
 * Draw `loadChart` (the API's LoadChart). `overlays` false draws what the page
 * drew before the microgrid fields: load, SOC and capacity lines only.
 */
export function renderChart(loadChart, overlays) {
  const data = toPlotData(loadChart);
  chart.data = data;
  chart.overlays = overlays;
  const box = $("chart");
  box.dataset.from = loadChart.from;
  box.dataset.to = loadChart.to;
  box.dataset.bucketSeconds = String(loadChart.bucketSeconds);
  box.dataset.series = String(data.series.length);
  const latest = latestValueAt(data);
  box.dataset.latest = latest === null ? "" : new Date(latest * 1000).toISOString();
  box.dataset.overlays = String(overlays);
  const keys = data.series.map((s) => s.key).join("|");
  const columns = [data.x, ...data.series.map((s) => s.values)];
  if (!chart.plot || chart.keys !== keys) {
    create(columns);
    chart.keys = keys;
  } else {
    chart.plot.setData(columns);
  }
  renderLegend(data);
  renderNewest(data);
  $("chart-empty").hidden = data.series.some((s) => s.values.some((v) => v !== null));
  showReadout(chart.plot);
}

function create(columns) {
  if (chart.plot) chart.plot.destroy();
  chart.narrow = chartWidth() < NARROW;
  $("chart").classList.toggle("narrow", chart.narrow);
  chart.plot = new uPlot(options(chart.data), columns, $("chart"));
}

/** Arrow keys move the read-out bucket by bucket (Home / End: first / last). */
export function stepCursor(event) {
  const u = chart.plot;
  if (!u || !chart.data || !chart.data.x.length) return;
  const last = chart.data.x.length - 1;
  const now = u.cursor.idx === null || u.cursor.idx === undefined ? null : u.cursor.idx;
  const moves = { ArrowLeft: now === null ? last : now - 1, ArrowRight: now === null ? 0 : now + 1,
                  Home: 0, End: last };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const idx = Math.min(last, Math.max(0, moves[event.key]));
  u.setCursor({ left: u.valToPos(chart.data.x[idx], "x"), top: u.over.clientHeight / 2 });
}

export function resizeChart() {
  if (!chart.plot) return;
  const width = chartWidth();
  if ((width < NARROW) !== chart.narrow) {
    create(chart.plot.data);
  } else {
    chart.plot.setSize({ width, height: height(width) });
  }
}

export function clearChart() {
  if (chart.plot) chart.plot.destroy();
  Object.assign(chart, { plot: null, keys: "", data: null });
  $("chart-legend").replaceChildren();
  $("chart-latest").textContent = "";
  $("chart-bands").replaceChildren();
  $("chart-readout").replaceChildren();
}

function options(data) {
  const colour = colours(data.series);
  const width = chartWidth();
  const narrow = width < NARROW;
  return {
    width,
    height: height(width),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    legend: { show: false },
    cursor: { drag: { x: false, y: false, setScale: false } },
    scales: {
      x: { time: true, range: () => [chart.data.from, chart.data.to] },
      W: { auto: true },
      "%": { range: [0, 100] },
    },
    series: [{}, ...data.series.map((s) => {
      const style = KINDS[s.kind];
      return {
        label: s.label, scale: style.scale, stroke: colour(s), width: style.width,
        dash: style.dash, spanGaps: false,
        paths: style.step ? uPlot.paths.stepped({ align: 1 }) : undefined,
      };
    })],
    axes: [
      { space: 70, label: narrow ? null : "Time (UTC)", values: timeLabels },
      { scale: "W", size: axisSize(narrow), values: (_u, splits) => splits.map(watts),
        label: narrow ? null : "Power / capacity" },
      { scale: "%", side: 1, size: axisSize(narrow), grid: { show: false },
        label: narrow ? null : "SOC", values: (_u, splits) => splits.map((v) => `${v} %`) },
    ],
    hooks: {
      setCursor: [showReadout],
      draw: [drawOverlays],
    },
  };
}

/** An axis wide enough for its longest label (uPlot's default fits only short ones). */
function axisSize(narrow) {
  return (_u, values) => {
    const longest = Math.max(3, ...(values || []).map((v) => String(v).length));
    return Math.ceil(longest * 7.5) + (narrow ? 16 : 34);
  };
}

/** Axis labels in UTC, 24-hour; the date where it changes. */
function timeLabels(_u, splits) {
  let day = null;
  return splits.map((split) => {
    const text = new Date(split * 1000).toISOString();
    const label = day === text.slice(0, 10) ? text.slice(11, 16)
      : `${text.slice(11, 16)}\n${text.slice(5, 10)}`;
    day = text.slice(0, 10);
    return label;
  });
}

function dashSample(style, colour) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "10");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG, "line");
  for (const [name, value] of Object.entries({ x1: 0, y1: 5, x2: 28, y2: 5, stroke: colour,
    "stroke-width": style.width, "stroke-dasharray": style.dash.join(" ") || "none" })) {
    line.setAttribute(name, String(value));
  }
  svg.append(line);
  return svg;
}

/** The newest reading of each series in words: what a glance at the line's end says. */
function renderNewest(data) {
  const parts = newestReadings(data).filter((r) => r.value !== null).map((r) =>
    `${r.series.label} ${number(r.value, r.series.unit)} (${utc(r.at).slice(11)})`);
  $("chart-latest").textContent = parts.length ? `Newest: ${parts.join("; ")}` : "";
}

function renderLegend(data) {
  const colour = colours(data.series);
  const drawn = data.series.filter((s) => s.values.some((v) => v !== null));
  const items = drawn.map((s) => el("li", { "data-series": s.key },
    dashSample(KINDS[s.kind], colour(s)), ` ${s.label} (${s.unit})`));
  const silent = [...new Set(data.series.filter((s) => !drawn.includes(s)).map((s) => s.name))]
    .filter((name) => !drawn.some((s) => s.name === name));
  if (silent.length) {
    items.push(el("li", { class: "muted", "data-role": "no-readings" },
                  `No readings in this range: ${silent.join(", ")}`));
  }
  if (chart.overlays) {
    items.push(el("li", {}, el("span", { class: "swatch shade-fail-safe" }), " fail-safe capacity applied"),
               el("li", {}, el("span", { class: "swatch shade-configured-safe" }),
                  " configured safe capacity applied"));
  }
  $("chart-legend").replaceChildren(...items);
}

function drawOverlays(u) {
  const data = chart.data;
  for (const node of u.over.querySelectorAll(".shade")) node.remove();
  const bands = $("chart-bands");
  if (!chart.overlays) {
    bands.replaceChildren();
    bands.hidden = true;
    return;
  }
  const left = (t) => u.valToPos(t, "x");
  // Shading explains a circuit's capacity lines: circuits with none drawn here
  // (never reported; on their configured capacity throughout) would only veil the
  // chart. The read-out still names every circuit's source.
  const drawn = new Set(data.series.filter((s) => s.kind.startsWith("CIRCUIT_")
    && s.values.some((v) => v !== null)).map((s) => s.subjectId));
  const shading = data.shading.filter((s) => drawn.has(s.circuitId));
  const lanes = [...new Set(shading.map((s) => `${s.circuitId}:${s.source}`))];
  const labels = [];
  for (const span of shading) {
    const x0 = left(span.from);
    const x1 = left(span.to);
    const kind = span.source === "CONTROLLER_FAIL_SAFE" ? "fail-safe" : "configured-safe";
    const text = `${span.circuit}: ${SHADED_SOURCES[span.source]}`;
    const shade = el("div", { class: `shade shade-${kind}`, "data-source": span.source,
                              "data-circuit": span.circuitId,
                              title: `${text}, ${utc(span.from)} – ${utc(span.to)}` },
                     el("span", { class: "shade-label" }, text));
    shade.style.left = `${x0}px`;
    shade.style.width = `${Math.max(1, x1 - x0)}px`;
    shade.firstChild.style.top = `${lanes.indexOf(`${span.circuitId}:${span.source}`) * 1.3}em`;
    u.over.append(shade);
    labels.push(shade.firstChild);
  }
  for (const label of labels) {  // a label that does not fit its span is left to the legend
    label.hidden = label.offsetWidth > label.parentNode.clientWidth;
  }
  bands.hidden = false;
  const plotLeft = u.over.offsetLeft;
  const plotWidth = u.over.clientWidth;
  bands.replaceChildren(...data.bands.map((band) => {
    const track = el("div", { class: "band-track" });
    track.style.marginLeft = `${plotLeft}px`;
    track.style.width = `${plotWidth}px`;
    for (const span of band.spans) {
      const x0 = left(span.from);
      const x1 = left(span.to);
      const stale = span.freshness === "STALE";
      const words = `${span.status}${stale ? " (stale)" : ""}`;
      const segment = el("div", {
        class: `band band-${span.status.toLowerCase()}${stale ? " band-stale" : ""}`,
        "data-capability": band.capability, "data-status": span.status,
        "data-freshness": span.freshness,
        title: `${capabilityTitle(band.capability)}: ${words}, ${utc(span.from)} – ${utc(span.to)}`,
      }, el("span", {}, words));
      segment.style.left = `${x0}px`;
      segment.style.width = `${Math.max(1, x1 - x0)}px`;
      track.append(segment);
    }
    const label = el("div", { class: "band-label" }, capabilityTitle(band.capability));
    label.style.marginLeft = `${plotLeft}px`;
    return el("div", { class: "band-row", "data-capability": band.capability }, label, track);
  }));
}

function showReadout(u) {
  const box = $("chart-readout");
  const data = chart.data;
  const idx = u && u.cursor ? u.cursor.idx : null;
  if (!data || idx === null || idx === undefined || data.x[idx] === undefined) {
    box.replaceChildren(el("p", { class: "muted" }, "Point at or tap the chart (or focus it "
      + "and use the arrow keys) for the exact values of a bucket."));
    return;
  }
  const at = data.x[idx];
  // Buckets sit on the clock's grid; the first may start at `from`, after its grid line.
  const end = data.bucketSeconds
    ? Math.min((Math.floor(at / data.bucketSeconds) + 1) * data.bucketSeconds, data.to ?? Infinity)
    : null;
  const drawn = data.series.filter((s) => s.values.some((v) => v !== null));
  const lines = drawn.map((s) => {
    const p = s.points[idx];
    const text = p && [p.min, p.avg, p.max, p.last].some((v) => v !== null)
      ? `avg ${number(p.avg, s.unit)} (min ${number(p.min, s.unit)}, max ${number(p.max, s.unit)}, ` +
        `last ${number(p.last, s.unit)})`
      : "no reading (gap)";
    return el("li", { "data-series": s.key }, `${s.label}: ${text}`);
  });
  if (chart.overlays) {
    for (const band of data.bands) {
      const span = spanAt(band.spans, at);
      lines.push(el("li", { "data-capability": band.capability },
        `${capabilityTitle(band.capability)}: ` +
        (span ? `${span.status}, ${span.freshness.toLowerCase()}` : "no status in range")));
    }
    for (const span of data.shading.filter((s) => s.from <= at && at < s.to)) {
      lines.push(el("li", { "data-source": span.source },
        `${span.circuit}: ${SHADED_SOURCES[span.source]} applied`));
    }
  }
  box.replaceChildren(
    el("p", { "data-role": "readout-time" },
       `${utc(at)}${end === null ? "" : ` – ${utc(end)}`}`),
    el("ul", { class: "plain readout-values" }, ...lines));
}
