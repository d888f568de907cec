// The load chart's data: a LoadChart from the API turned into uPlot's columns
// (one shared time axis in seconds, one value array per series) plus the spans
// drawn over it. Pure functions, no DOM: gaps stay nulls, nothing is invented.

// How each series kind is drawn; the value plotted is the bucket's avg for
// load and SOC, its last for the capacities (a level that holds until changed).
export const KINDS = {
  POWER_SOURCE_LOAD_W: { label: "load", value: "avg", scale: "W", dash: [], width: 2, step: false },
  POWER_SOURCE_SOC_PERCENT: { label: "SOC", value: "avg", scale: "%", dash: [7, 3, 2, 3], width: 2,
                              step: false },
  CIRCUIT_AVAILABLE_CAPACITY_W: { label: "available capacity", value: "last", scale: "W",
                                  dash: [9, 5], width: 1.5, step: true },
  CIRCUIT_FAIL_SAFE_CAPACITY_W: { label: "fail-safe capacity", value: "last", scale: "W",
                                  dash: [2, 4], width: 1.5, step: true },
  CIRCUIT_EFFECTIVE_CAPACITY_W: { label: "effective capacity", value: "last", scale: "W",
                                  dash: [], width: 3, step: true },
};
const KIND_ORDER = Object.keys(KINDS);

// The capacity sources that mean the controller's granted capacity did not apply.
export const SHADED_SOURCES = {
  CONTROLLER_FAIL_SAFE: "fail-safe capacity",
  CONFIGURED_SAFE: "configured safe capacity",
};

// The API's DateTime: ISO 8601 with a UTC offset. Anything else is not a time.
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/;

/** Seconds since the epoch, or null for anything that is not such a date. */
export function seconds(text) {
  if (typeof text !== "string" || !ISO.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

function finite(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** An interval clipped to [from, to]; an open one (to null) runs to the chart's end. */
function spanOf(interval, from, to) {
  const start = seconds(interval.from);
  const end = interval.to === null || interval.to === undefined ? to : seconds(interval.to);
  if (start === null || end === null) return null;
  const a = Math.max(start, from);
  const b = Math.min(end, to);
  return b > a ? [a, b] : null;
}

/**
 * The plot's data: `x` strictly increasing seconds; every series' `values` and
 * `points` as long as `x`, null where its bucket holds no reading. A hole in the
 * bucket grid (a gap wider than one bucket) gets one null row, so no line spans it.
 */
export function toPlotData(chart) {
  const from = seconds(chart.from);
  const to = seconds(chart.to);
  const bucket = Number.isFinite(chart.bucketSeconds) && chart.bucketSeconds > 0
    ? chart.bucketSeconds : null;
  const input = (chart.series || []).filter((s) => Object.hasOwn(KINDS, s.kind))
    .map((s, index) => ({ s, index }));
  input.sort((a, b) => KIND_ORDER.indexOf(a.s.kind) - KIND_ORDER.indexOf(b.s.kind)
                       || a.index - b.index);

  const byTime = input.map(({ s }) => {
    const points = new Map();
    for (const point of s.points || []) {
      const at = seconds(point && point.at);
      if (at !== null) points.set(at, point);
    }
    return points;
  });
  const stamps = [...new Set(byTime.flatMap((points) => [...points.keys()]))].sort((a, b) => a - b);
  const x = [];
  for (const at of stamps) {
    const previous = x.length ? x[x.length - 1] : null;
    if (bucket !== null && previous !== null && at - previous > bucket * 1.5) {
      x.push(previous + bucket);  // a missing bucket: a null row keeps the gap a gap
    }
    x.push(at);
  }
  const series = input.map(({ s }, i) => {
    const style = KINDS[s.kind];
    const points = x.map((at) => {
      const point = byTime[i].get(at);
      return point ? { at, min: finite(point.min), avg: finite(point.avg),
                       max: finite(point.max), last: finite(point.last) } : null;
    });
    return {
      key: `${s.kind}:${s.subjectId}`, kind: s.kind, subjectId: String(s.subjectId),
      name: String(s.name), unit: String(s.unit), scale: style.scale,
      label: `${s.name} ${style.label}`,
      values: points.map((p) => (p ? p[style.value] : null)), points,
    };
  });

  const bands = [];
  const byCapability = new Map();
  if (from !== null && to !== null) {
    for (const interval of chart.capabilityIntervals || []) {
      const span = spanOf(interval, from, to);
      if (!span) continue;
      if (!byCapability.has(interval.capability)) {
        byCapability.set(interval.capability, []);
        bands.push({ capability: interval.capability, spans: byCapability.get(interval.capability) });
      }
      byCapability.get(interval.capability).push({
        status: interval.status, freshness: interval.freshness, from: span[0], to: span[1] });
    }
  }
  for (const band of bands) band.spans.sort((a, b) => a.from - b.from);

  const names = new Map(series.map((s) => [s.subjectId, s.name]));
  const shading = [];
  if (from !== null && to !== null) {
    for (const interval of chart.capacitySourceIntervals || []) {
      const span = Object.hasOwn(SHADED_SOURCES, interval.source)
        ? spanOf(interval, from, to) : null;
      if (!span) continue;
      const circuitId = String(interval.circuitId);
      shading.push({ circuitId, circuit: names.get(circuitId) || "circuit",
                     source: interval.source, from: span[0], to: span[1] });
    }
  }
  shading.sort((a, b) => a.from - b.from);
  return { from, to, bucketSeconds: bucket, x, series, bands, shading };
}

/** The span of `spans` covering time `at` (from inclusive, to exclusive), or null. */
export function spanAt(spans, at) {
  return spans.find((span) => span.from <= at && at < span.to) || null;
}

/** Each series' newest reading: its bucket's last value and start, or null. */
export function newestReadings(data) {
  return data.series.map((s) => {
    for (let i = data.x.length - 1; i >= 0; i -= 1) {
      const point = s.points[i];
      if (point && point.last !== null) return { series: s, at: data.x[i], value: point.last };
    }
    return { series: s, at: null, value: null };
  });
}

/** The newest time that has a value in any series, or null. */
export function latestValueAt(data) {
  for (let i = data.x.length - 1; i >= 0; i -= 1) {
    if (data.series.some((s) => s.values[i] !== null)) return data.x[i];
  }
  return null;
}
