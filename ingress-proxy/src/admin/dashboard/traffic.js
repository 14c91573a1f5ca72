// Traffic: per Ingress and per Service, requests/s, error ratio and p50/p99 latency over the
// last five minutes, from /api/traffic (one sample a second; the page asks only for samples
// newer than those it has).
"use strict";
(function () {
  var series = { ingresses: {}, services: {} };
  var newest = 0;
  var windowSeconds = 300;

  function merge(kind, list) {
    list.forEach(function (s) {
      var known = series[kind][s.name] || { samples: [] };
      known.requests_total = s.requests_total;
      known.errors_total = s.errors_total;
      known.samples = known.samples.concat(s.samples).slice(-windowSeconds);
      series[kind][s.name] = known;
      s.samples.forEach(function (sample) { if (sample.time > newest) newest = sample.time; });
    });
  }

  function latest(samples, pick) {
    for (var i = samples.length - 1; i >= 0; i--) {
      var v = pick(samples[i]);
      if (v !== null && v !== undefined) return v;
    }
    return null;
  }

  function ms(seconds) { return seconds === null ? "—" : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0) + " ms"; }

  function card(name, s) {
    var samples = s.samples;
    var rate = samples.map(function (p) { return { time: p.time, a: p.requests }; });
    var errors = samples.map(function (p) { return { time: p.time, a: p.requests ? p.errors / p.requests : null }; });
    var latency = samples.map(function (p) { return { time: p.time, a: p.p50, b: p.p99 }; });
    var lastRate = samples.length ? samples[samples.length - 1].requests : 0;
    var lastRatio = latest(samples, function (p) { return p.requests ? p.errors / p.requests : null; });
    return Dash.el("div", { class: "card", "data-name": name, "data-requests-total": s.requests_total },
      Dash.el("h4", null, name === "-" ? "— (no rule: default backend or 404)" : name),
      Dash.el("div", { class: "totals" }, s.requests_total + " requests, " + s.errors_total + " errors (5xx) since sampling began"),
      Dash.el("div", { class: "chart-label" }, Dash.el("span", { class: "k1" }, "requests/s"), Dash.el("span", null, String(lastRate))),
      Dash.chart(rate, { window: windowSeconds, label: "requests per second" }),
      Dash.el("div", { class: "chart-label" }, Dash.el("span", { class: "k1" }, "error ratio"),
        Dash.el("span", null, lastRatio === null ? "—" : (lastRatio * 100).toFixed(1) + " %")),
      Dash.chart(errors, { window: windowSeconds, max: 1, label: "error ratio" }),
      Dash.el("div", { class: "chart-label" },
        Dash.el("span", null, Dash.el("span", { class: "k1" }, "p50"), " / ", Dash.el("span", { class: "k2" }, "p99")),
        Dash.el("span", null, ms(latest(samples, function (p) { return p.p50; })) + " / " + ms(latest(samples, function (p) { return p.p99; })))),
      Dash.chart(latency, { window: windowSeconds, label: "latency p50 and p99" }));
  }

  function render(kind, element) {
    var names = Object.keys(series[kind]).sort();
    Dash.replace(document.getElementById(element), names.map(function (name) { return card(name, series[kind][name]); }));
    return names.length;
  }

  Dash.views.traffic = {
    refresh: function () {
      return Dash.getJSON("/api/traffic?since=" + newest).then(function (answer) {
        windowSeconds = answer.window || windowSeconds;
        merge("ingresses", answer.ingresses);
        merge("services", answer.services);
        var shown = render("ingresses", "traffic-ingresses") + render("services", "traffic-services");
        document.getElementById("traffic-empty").hidden = shown > 0;
        return "traffic sampled every " + answer.interval_seconds + " s";
      });
    },
  };
})();
