// Charts with uPlot: a table's throughput and quarantine rate over its loads; a quarantine's violations over time
// (stacked by type).
(function () {
  "use strict";
  const palette = ["#dc2626", "#f59e0b", "#7c3aed", "#0891b2", "#16a34a", "#db2777", "#64748b"];

  function width(el) { return Math.max(320, el.clientWidth || el.parentElement.clientWidth - 8); }
  // Data shorter than a minute (one instant, or points a second apart) gets a readable time axis: the minute around
  // it. Judged from the data, not from min/max: for a lone instant uPlot pads the x scale to 86400 / ms before it
  // calls range (ms = 1e-3 for epoch seconds: 1000 days), so min/max never show a zero-width span. A longer span, or
  // a zoom into part of the data, stays as it is.
  const MINUTE = 60;
  const x = {
    time: true,
    range: (u, min, max) => {
      const t = u.data[0];
      if (!t || !t.length) return [min, max];
      const first = t[0], last = t[t.length - 1];
      if (last - first >= MINUTE || min > first || max < last) return [min, max];
      const middle = (first + last) / 2;
      return [middle - MINUTE / 2, middle + MINUTE / 2];
    },
  };

  const throughput = document.getElementById("throughput-chart");
  if (throughput) {
    const points = JSON.parse(document.getElementById("series").textContent);
    const t = points.map((p) => p.t);
    const rows = points.map((p) => (p.rowsPerSecond === null ? p.rowsLanded : p.rowsPerSecond));
    const rate = points.map((p) => 100 * p.quarantineRate);
    const perSecond = points.some((p) => p.rowsPerSecond !== null);
    throughput.uplot = new uPlot({  // a handle on the chart, for the browser tests
      width: width(throughput), height: 260,
      series: [
        {},
        { label: perSecond ? "rows landed / s" : "rows landed", stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.08)", scale: "rows" },
        { label: "quarantine rate %", stroke: "#dc2626", width: 2, scale: "%" },
      ],
      axes: [{}, { scale: "rows", label: perSecond ? "rows / s" : "rows" }, { scale: "%", side: 1, label: "% quarantined", grid: { show: false } }],
      scales: { x: x, "%": { range: [0, 100] } },
    }, [t, rows, rate], throughput);
    throughput.dataset.ready = "true";
  }

  // Stacked bars, uPlot's documented way (its demos/stack.js): each series holds the running total up to it, and a
  // band from each series down to the one below makes uPlot draw its bars from there, not from zero. Series hidden
  // from the legend leave the stack. The legend shows each type's own count.
  function stack(raw, shown) {
    const total = raw[0].map(() => 0);
    const data = [raw[0]].concat(raw.slice(1).map((values, i) =>
      shown(i + 1) ? values.map((v, j) => (total[j] += v)) : values));
    const bands = [];
    for (let i = 1; i < raw.length; i++) {
      const above = raw.findIndex((_, j) => j > i && shown(j));
      if (shown(i) && above > -1) bands.push({ series: [above, i] });
    }
    return { data, bands };
  }

  const violations = document.getElementById("violations-chart");
  if (violations) {
    const over = JSON.parse(document.getElementById("violations").textContent);
    const types = [...new Set(over.points.flatMap((p) => Object.keys(p.byType)))].sort();
    const t = over.points.map((p) => p.t);
    const raw = [t].concat(types.map((k) => over.points.map((p) => p.byType[k] || 0)));
    const stacked = stack(raw, () => true);
    violations.bars = [];  // the rectangles drawn (canvas pixels: series, point, left, top, width, height), for the tests
    const bars = uPlot.paths.bars({
      size: [0.6, 40],
      each: (u, si, i, left, top, w, h) => { violations.bars.push({ series: si, point: i, left, top, width: w, height: h }); },
    });
    violations.uplot = new uPlot({  // a handle on the chart, for the browser tests
      width: width(violations), height: 240,
      series: [{}].concat(types.map((k, i) => ({ label: k, stroke: palette[i % palette.length], width: 0, paths: bars,
                                                 fill: palette[i % palette.length], points: { show: false },
                                                 value: (u, v, si, j) => raw[si][j] }))),
      bands: stacked.bands,
      // bars stand on zero: uPlot's auto range would start the count axis near the smallest bar and hide it
      scales: { x: x, y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
      axes: [{}, { label: "violations" }],
      hooks: {
        drawClear: [() => { violations.bars = []; }],
        setSeries: [(u) => {
          const again = stack(raw, (i) => u.series[i].show);
          u.delBand(null);
          again.bands.forEach((b) => u.addBand(b));
          u.setData(again.data);
        }],
      },
    }, stacked.data, violations);
    violations.dataset.ready = "true";
  }
})();
