// Explain: which rule a request takes and why the others lost, from /api/explain (the same
// answer as `ingress-proxy explain`). Only reads.
"use strict";
(function () {
  function lines(id) {
    return document.getElementById(id).value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
  }

  function show(answer) {
    var d = answer.decision;
    var rule = d.rule ? " — rule " + d.rule.ingress + " " + d.rule.rule.join("/") : "";
    var parts = [
      Dash.el("p", { class: "decision", id: "explain-decision" },
        Dash.el("strong", null, d.target), " via " + d.source + rule),
    ];
    if (d.redirected) {
      parts.push(Dash.el("p", null, Dash.chip("308", "warn"), " over plain HTTP this host redirects to HTTPS; with scheme https it is routed as above."));
    }
    if (answer.canary) {
      parts.push(Dash.el("p", null, Dash.chip("canary " + answer.canary.outcome), " " + answer.canary.ingress + " → " + answer.canary.backend + ": " + answer.canary.detail));
    }
    if (answer.endpoints && answer.endpoints.unavailable) {
      parts.push(Dash.el("p", null, "Endpoints: ", Dash.chip("unavailable (503): " + answer.endpoints.unavailable, "bad")));
    }
    if (Array.isArray(answer.endpoints)) {
      parts.push(Dash.el("p", null, "Endpoints: ", answer.endpoints.length ? answer.endpoints.map(function (e) {
        return Dash.chip(e.address + (e.eligible === false ? " ejected" : " eligible"), e.eligible === false ? "bad" : "ok");
      }) : Dash.chip("none ready (503)", "bad")));
    }
    var rows = answer.candidates.map(function (c) {
      return Dash.el("tr", { class: c.chosen ? "chosen" : null },
        Dash.el("td", { "data-label": "Ingress" }, c.ingress + " " + c.rule.join("/")),
        Dash.el("td", { "data-label": "Rule", class: "mono" }, (c.host || "*") + " " + c.path + " (" + c.path_type + ")"),
        Dash.el("td", { "data-label": "Backend" }, c.backend),
        Dash.el("td", { "data-label": "Verdict" }, c.chosen ? Dash.chip("CHOSEN", "ok") : c.verdict));
    });
    parts.push(Dash.el("div", { class: "scroll" }, Dash.el("table", { id: "explain-candidates" },
      Dash.el("thead", null, Dash.el("tr", null, Dash.el("th", null, "Ingress"), Dash.el("th", null, "Rule"), Dash.el("th", null, "Backend"), Dash.el("th", null, "Verdict"))),
      Dash.el("tbody", null, rows))));
    parts.push(Dash.el("details", null, Dash.el("summary", null, "As ingress-proxy explain prints it"), Dash.el("pre", { class: "report" }, answer.text)));
    Dash.replace(document.getElementById("explain-result"), parts);
  }

  Dash.views.explain = {
    refresh: function () { return Promise.resolve("explain reads the table in force"); },
    init: function () {
      document.getElementById("explain-form").addEventListener("submit", function (event) {
        event.preventDefault();
        var query = new URLSearchParams();
        query.append("host", document.getElementById("explain-host").value.trim());
        query.append("path", document.getElementById("explain-path").value.trim() || "/");
        query.append("scheme", document.getElementById("explain-scheme").value);
        lines("explain-headers").forEach(function (h) { query.append("header", h); });
        lines("explain-cookies").forEach(function (c) { query.append("cookie", c); });
        Dash.getJSON("/api/explain?" + query.toString()).then(show, function (error) {
          Dash.replace(document.getElementById("explain-result"), Dash.el("p", { class: "note" }, String(error)));
        });
      });
    },
  };
})();
