// Charts for the dashboard and the report, on the vendored uPlot. Each chart object keeps its
// uPlot instance and redraws in place when only the numbers change; a change of series (another
// language, another set of services) rebuilds it.

import uPlot from "/static/vendor/uplot-1.6.32/uPlot.esm.js";

// One colour per service, in service order; each at least 4.5:1 on white.
export const SERVICE_COLOURS = ["#0b5cad", "#b4460a", "#17663a", "#7b2cbf", "#b3261e", "#0f6e6e", "#8a5a00", "#b0186f"];
const AXIS = { stroke: "#4a5463", font: "12px system-ui, sans-serif", grid: { stroke: "#e3e8ef", width: 1 },
  ticks: { stroke: "#c9d1dc", width: 1 } };

export function colourOf(index) {
  return SERVICE_COLOURS[index % SERVICE_COLOURS.length];
}

function integerAxis() {
  return { ...AXIS, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500], values: (u, values) => values.map((v) => String(v)) };
}

/**
 * A chart in ``container`` that ``draw(spec)`` creates or updates; spec = {key, options, data}.
 * ``height``: pixels, or "fill" to take the container's own height (less the legend below the
 * plot): the container's size must then come from its layout, not from its content.
 */
function managedChart(container, height) {
  let plot = null;
  let key = null;
  const width = () => Math.max(280, container.clientWidth);
  const legend = () => (plot && plot.root.querySelector(".u-legend")?.offsetHeight) || 36;
  const plotHeight = () => (height === "fill" ? Math.max(120, container.clientHeight - legend() - 4) : height);
  let resizeTimer = null;
  const resize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (plot && container.clientWidth > 0) plot.setSize({ width: width(), height: plotHeight() });
    }, 150);
  };
  window.addEventListener("resize", resize);
  if (height === "fill" && typeof ResizeObserver === "function") new ResizeObserver(resize).observe(container);
  return {
    draw(specKey, options, data) {
      if (plot && key === specKey) {
        plot.setData(data);
        return plot;
      }
      if (plot) plot.destroy();
      container.replaceChildren();
      key = specKey;
      plot = new uPlot({ width: width(), height: plotHeight(), ...options }, data, container);
      if (height === "fill") resize(); // now that the legend's real height is known
      return plot;
    },
    clear() {
      if (plot) plot.destroy();
      plot = null;
      key = null;
      container.replaceChildren();
    },
  };
}

/**
 * Waiting tickets per service over the day (the report's waiting_series).
 * services: [{code, label}] in order; series: {t: [...], services: {code: [...]}}.
 */
export function waitingChart(container, { height = 220 } = {}) {
  const chart = managedChart(container, height);
  return {
    update(series, services, timeZone) {
      if (!series || series.t.length === 0) {
        chart.clear();
        return false;
      }
      const hhmm = (ts) => new Date(ts * 1e3).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone });
      const options = {
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), timeZone),
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
        axes: [{ ...AXIS, space: 60, values: (u, splits) => splits.map(hhmm) }, integerAxis()],
        series: [
          { value: (u, ts) => (ts == null ? "" : hhmm(ts)) },
          ...services.map((service, i) => ({
            label: service.label, stroke: colourOf(i), width: 2, points: { show: series.t.length < 40, size: 5 },
          })),
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      };
      const data = [series.t, ...services.map((service) => series.services[service.code] || series.t.map(() => 0))];
      chart.draw(services.map((s) => s.label).join("|") + timeZone, options, data);
      return true;
    },
  };
}

/** Bars side by side: series ``index`` of ``count`` in each x slot. */
function groupedBars(index, count) {
  return (u, seriesIndex, first, last) => {
    const path = new Path2D();
    const xs = u.data[0];
    const ys = u.data[seriesIndex];
    const slot = xs.length > 1
      ? Math.abs(u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true))
      : u.bbox.width / 2;
    const group = slot * 0.78;
    const bar = group / count;
    const base = u.valToPos(0, "y", true);
    for (let i = first; i <= last; i++) {
      if (ys[i] == null) continue;
      const left = u.valToPos(xs[i], "x", true) - group / 2 + index * bar;
      const top = u.valToPos(ys[i], "y", true);
      path.rect(Math.round(left), Math.round(top), Math.max(1, Math.round(bar) - 2), Math.round(base - top));
    }
    return { stroke: path, fill: path };
  };
}

/**
 * Grouped bars over categories: labels (x axis), groups [{label, colour, values}], an optional
 * marker series drawn as points (e.g. each service's target).
 */
export function barChart(container, { height = 240 } = {}) {
  const chart = managedChart(container, height);
  return {
    update({ labels, groups, marker = null, unit = "", max = null }) {
      if (!labels.length) {
        chart.clear();
        return false;
      }
      const xs = labels.map((_, i) => i);
      const series = groups.map((group, i) => ({
        label: group.label, stroke: group.colour, fill: group.colour, width: 0,
        paths: groupedBars(i, groups.length), points: { show: false },
        value: (u, v) => (v == null ? "—" : `${v}${unit}`),
      }));
      const data = [xs, ...groups.map((group) => group.values)];
      if (marker) {
        series.push({
          label: marker.label, stroke: marker.colour, width: 0, paths: () => null,
          points: { show: true, size: 12, width: 3, stroke: marker.colour, fill: "#ffffff" },
          value: (u, v) => (v == null ? "—" : `${v}${unit}`),
        });
        data.push(marker.values);
      }
      const options = {
        scales: {
          x: { time: false, range: () => [-0.5, labels.length - 0.5] },
          y: { range: (u, low, high) => [0, max ?? Math.max(1, Math.ceil((high || 0) * 1.15))] },
        },
        axes: [
          { ...AXIS, incrs: [1, 2, 3, 4, 6, 12], space: 34, grid: { show: false },
            values: (u, values) => values.map((v) => labels[v] ?? "") },
          { ...AXIS },
        ],
        series: [{ value: (u, v) => labels[v] ?? "" }, ...series],
        legend: { live: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
      };
      chart.draw(JSON.stringify([labels, series.map((s) => s.label)]), options, data);
      return true;
    },
  };
}

/** Bars stacked in each x slot: a series sits on the shown series before it (legend toggles respected). */
function stackedBars(u, seriesIndex, first, last) {
  const path = new Path2D();
  const xs = u.data[0];
  const slot = xs.length > 1
    ? Math.abs(u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true))
    : u.bbox.width;
  const bar = Math.min(slot * 0.6, 72 * (window.devicePixelRatio || 1));
  for (let i = first; i <= last; i++) {
    const value = u.data[seriesIndex][i];
    if (!value) continue;
    let below = 0;
    for (let k = 1; k < seriesIndex; k++) if (u.series[k].show) below += u.data[k][i] || 0;
    const bottom = u.valToPos(below, "y", true);
    const top = u.valToPos(below + value, "y", true);
    const left = u.valToPos(xs[i], "x", true) - bar / 2;
    path.rect(Math.round(left), Math.round(top), Math.round(bar), Math.round(bottom - top));
  }
  return { stroke: path, fill: path };
}

/**
 * Counts stacked per category: labels (x axis, e.g. weeks), groups [{label, colour, values}] (one
 * per kind). The legend lists every kind, so a kind that never happened still shows as zero.
 */
export function stackedBarChart(container, { height = 240 } = {}) {
  const chart = managedChart(container, height);
  return {
    update({ labels, groups }) {
      if (!labels.length) {
        chart.clear();
        return false;
      }
      const data = [labels.map((_, i) => i), ...groups.map((group) => group.values)];
      const highest = Math.max(0, ...labels.map((_, i) => groups.reduce((sum, g) => sum + (g.values[i] || 0), 0)));
      const options = {
        scales: {
          x: { time: false, range: () => [-0.5, labels.length - 0.5] },
          y: { range: () => [0, Math.max(4, Math.ceil(highest * 1.15))] },
        },
        axes: [
          { ...AXIS, incrs: [1, 2, 3, 4, 6, 12], space: 34, grid: { show: false },
            values: (u, values) => values.map((v) => labels[v] ?? "") },
          integerAxis(),
        ],
        series: [
          { value: (u, v) => labels[v] ?? "" },
          ...groups.map((group) => ({
            label: group.label, stroke: group.colour, fill: group.colour, width: 0,
            paths: stackedBars, points: { show: false },
          })),
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
      };
      chart.draw(JSON.stringify([labels, groups.map((g) => g.label)]), options, data);
      return true;
    },
  };
}
