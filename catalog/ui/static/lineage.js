// The lineage graph: Cytoscape.js with the dagre layered layout (data flows left to right), from /ui/graph.json.
// Click a node to open its page; choose a column to highlight its column lineage; large graphs render as textures
// while panning so hundreds of nodes stay fluid.
(function () {
  "use strict";
  const box = document.getElementById("graph");
  if (!box) return;
  const colors = { TOPIC: "#f59e0b", JOB: "#64748b", TABLE: "#2563eb", QUARANTINE: "#dc2626", FILE: "#a16207", DATASET: "#0f766e" };
  const params = new URLSearchParams({ depth: box.dataset.depth, direction: box.dataset.direction });
  if (box.dataset.node) params.set("node", box.dataset.node);

  fetch("/ui/graph.json?" + params.toString(), { credentials: "same-origin" })
    .then((r) => { if (!r.ok) throw new Error("graph: HTTP " + r.status); return r.json(); })
    .then(draw)
    .catch((e) => { box.textContent = String(e); });

  function draw(graph) {
    const big = graph.nodes.length > 150;
    const elements = graph.nodes.map((n) => ({
      data: { id: n.id, label: n.label + (n.pii ? "  [PII]" : ""), kind: n.kind, pii: n.pii, url: n.url, root: n.id === graph.root },
    })).concat(graph.edges.map((e) => ({ data: { id: e.origin + " -> " + e.destination, source: e.origin, target: e.destination } })));
    const cy = cytoscape({
      container: box,
      elements: elements,
      minZoom: 0.05,
      maxZoom: 3,
      textureOnViewport: big,
      hideEdgesOnViewport: big,
      motionBlur: big,
      style: [
        { selector: "node", style: {
            "label": "data(label)", "font-size": 11, "text-valign": "bottom", "text-margin-y": 4, "color": "#1d2430",
            "background-color": (n) => colors[n.data("kind")] || "#0f766e", "width": 26, "height": 26,
            "shape": (n) => n.data("kind") === "JOB" ? "round-hexagon" : n.data("kind") === "TOPIC" ? "round-tag" : "round-rectangle",
            "text-wrap": "ellipsis", "text-max-width": 160 } },
        { selector: "node[?pii]", style: { "border-width": 4, "border-color": "#7c3aed" } },
        { selector: "node[?root]", style: { "width": 34, "height": 34, "font-weight": "bold" } },
        { selector: "edge", style: { "width": 1.5, "line-color": "#94a3b8", "target-arrow-color": "#94a3b8", "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.9 } },
        { selector: ".faded", style: { "opacity": 0.18 } },
        { selector: "node.column", style: { "border-width": 5, "border-color": "#16a34a" } },
        { selector: "edge.column", style: { "line-color": "#16a34a", "target-arrow-color": "#16a34a", "width": 3 } },
        { selector: "node.found", style: { "border-width": 5, "border-color": "#f97316" } },
      ],
      layout: { name: "dagre", rankDir: "LR", nodeSep: 24, rankSep: 90, edgeSep: 8, animate: false, fit: true, padding: 24 },
    });
    cy.on("tap", "node", (evt) => { window.location.href = evt.target.data("url"); });
    cy.on("mouseover", "node", () => { box.style.cursor = "pointer"; });
    cy.on("mouseout", "node", () => { box.style.cursor = ""; });
    window.catalogGraph = cy;  // for the browser tests and the curious
    list(graph);
    find(cy);
    columns(cy);
    box.dataset.ready = "true";
  }

  function list(graph) {
    const names = Object.fromEntries(graph.nodes.map((n) => [n.id, n]));
    const ul = document.getElementById("edge-list");
    for (const e of graph.edges) {
      const li = document.createElement("li");
      const a = names[e.origin], b = names[e.destination];
      li.dataset.origin = a.kind; li.dataset.destination = b.kind;
      li.innerHTML = `<span class="kind kind-${a.kind.toLowerCase()}">${a.kind.toLowerCase()}</span> <a></a> → ` +
        `<span class="kind kind-${b.kind.toLowerCase()}">${b.kind.toLowerCase()}</span> <a></a>`;
      const links = li.querySelectorAll("a");
      links[0].href = a.url; links[0].textContent = a.label;
      links[1].href = b.url; links[1].textContent = b.label;
      ul.appendChild(li);
    }
  }

  function find(cy) {
    const input = document.getElementById("find");
    if (!input) return;
    input.addEventListener("input", () => {
      cy.nodes().removeClass("found");
      const text = input.value.trim().toLowerCase();
      if (!text) return;
      const hits = cy.nodes().filter((n) => n.data("label").toLowerCase().includes(text));
      hits.addClass("found");
      if (hits.length) cy.animate({ fit: { eles: hits, padding: 80 } }, { duration: 250 });
    });
  }

  function columns(cy) {
    const select = document.getElementById("column");
    const out = document.getElementById("column-path");
    if (!select) return;
    select.addEventListener("change", () => {
      cy.elements().removeClass("faded column");
      out.hidden = true;
      if (!select.value) return;
      const q = new URLSearchParams({ dataset: box.dataset.node, field: select.value });
      fetch("/ui/column-lineage.json?" + q.toString(), { credentials: "same-origin" })
        .then((r) => r.json())
        .then((col) => {
          const datasets = new Set(col.nodes.map((n) => `dataset:${n.namespace}:${n.dataset}`));
          cy.nodes().forEach((n) => { if (datasets.has(n.id())) n.addClass("column"); });
          const lit = cy.nodes(".column");
          const path = lit.union(lit.edgesWith(cy.nodes("[kind = 'JOB']")).connectedNodes("[kind = 'JOB']"));
          cy.elements().not(path.union(path.edgesWith(path))).addClass("faded");
          path.edgesWith(path).addClass("column");
          out.hidden = false;
          out.innerHTML = "<b>column lineage of " + select.value + "</b>: ";
          const items = col.edges.map((e) => e.origin.split(":").slice(-2).join(".").replace(/^.*\//, "") + " → " +
            e.destination.split(":").slice(-2).join(".").replace(/^.*\//, "") +
            (e.transformationType ? " (" + e.transformationType + ")" : ""));
          const span = document.createElement("span");
          span.textContent = items.length ? items.join(";  ") : "no column lineage recorded";
          out.appendChild(span);
        });
    });
  }
})();
