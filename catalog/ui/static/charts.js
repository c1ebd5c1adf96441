// Charts with uPlot: a table's throughput and quarantine rate over its loads; a quarantine's violations over time.
(function () {
  "use strict";
  const palette = ["#dc2626", "#f59e0b", "#7c3aed", "#0891b2", "#16a34a", "#db2777", "#64748b"];

  function width(el) { return Math.max(320, el.clientWidth || el.parentElement.clientWidth - 8); }
  // one point (or several at one instant) still gets a readable time axis: a minute around it
  const x = { time: true, range: (u, min, max) => (max - min < 1 ? [min - 30, max + 30] : [min, max]) };

  const throughput = document.getElementById("throughput-chart");
  if (throughput) {
    const points = JSON.parse(document.getElementById("series").textContent);
    const t = points.map((p) => p.t);
    const rows = points.map((p) => (p.rowsPerSecond === null ? p.rowsLanded : p.rowsPerSecond));
    const rate = points.map((p) => 100 * p.quarantineRate);
    const perSecond = points.some((p) => p.rowsPerSecond !== null);
    new uPlot({
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

  const violations = document.getElementById("violations-chart");
  if (violations) {
    const over = JSON.parse(document.getElementById("violations").textContent);
    const types = [...new Set(over.points.flatMap((p) => Object.keys(p.byType)))].sort();
    const t = over.points.map((p) => p.t);
    const data = [t].concat(types.map((k) => over.points.map((p) => p.byType[k] || 0)));
    new uPlot({
      width: width(violations), height: 240,
      series: [{}].concat(types.map((k, i) => ({ label: k, stroke: palette[i % palette.length], width: 2,
                                                 paths: uPlot.paths.bars({ size: [0.6, 40] }), fill: palette[i % palette.length] + "33" }))),
      scales: { x: x },
      axes: [{}, { label: "violations" }],
    }, data, violations);
    violations.dataset.ready = "true";
  }
})();
