// A small SVG time-series chart: up to two lines over the sampling window, no library.
"use strict";
Dash.chart = function (points, options) {
  // points: [{time, a, b}] (b optional; null = no value). options: {window, max, label}.
  var width = 300, height = 64, pad = 2;
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", options.label || "chart");
  var axis = document.createElementNS(ns, "line");
  axis.setAttribute("class", "axis");
  axis.setAttribute("x1", 0); axis.setAttribute("x2", width);
  axis.setAttribute("y1", height - pad); axis.setAttribute("y2", height - pad);
  svg.appendChild(axis);
  if (!points.length) return svg;
  var last = points[points.length - 1].time;
  var first = last - (options.window || 300);
  var max = options.max || 0;
  points.forEach(function (p) {
    if (p.a !== null && p.a > max) max = p.a;
    if (p.b !== null && p.b !== undefined && p.b > max) max = p.b;
  });
  if (max <= 0) max = 1;
  var x = function (t) { return ((t - first) / (last - first || 1)) * width; };
  var y = function (v) { return height - pad - (v / max) * (height - 2 * pad); };
  ["a", "b"].forEach(function (key, index) {
    var coordinates = points
      .filter(function (p) { return p[key] !== null && p[key] !== undefined; })
      .map(function (p) { return x(p.time).toFixed(1) + "," + y(p[key]).toFixed(1); });
    if (!coordinates.length) return;
    var line = document.createElementNS(ns, "polyline");
    line.setAttribute("class", "line-" + (index + 1));
    line.setAttribute("points", coordinates.join(" "));
    svg.appendChild(line);
    // The newest value as a dot: visible from the first sample on.
    var newest = coordinates[coordinates.length - 1].split(",");
    var dot = document.createElementNS(ns, "circle");
    dot.setAttribute("class", "dot-" + (index + 1));
    dot.setAttribute("cx", Math.min(Number(newest[0]), width - 3));
    dot.setAttribute("cy", newest[1]);
    dot.setAttribute("r", 2.5);
    svg.appendChild(dot);
  });
  return svg;
};
