// Routes: host → path (type) → Ingress → Service:port → endpoints with passive health, and
// the policies that apply; filtered by host, namespace and Ingress.
"use strict";
(function () {
  var last = null;

  function endpointChips(backend) {
    if (!backend) return Dash.chip("no endpoints listed", "warn");
    var endpoints = backend.endpoints;
    if (!Array.isArray(endpoints)) {
      return Dash.chip("unavailable: " + (endpoints && endpoints.unavailable), "bad");
    }
    if (!endpoints.length) return Dash.chip("no ready endpoint (503)", "bad");
    return endpoints.map(function (e) {
      if (e.external_name) return Dash.chip(e.address + " (ExternalName)", "ok");
      var state = e.eligible ? "eligible" : "ejected";
      var detail = e.failures ? " · " + e.failures + " failed" : "";
      if (e.ejected_for_seconds !== null && e.ejected_for_seconds !== undefined) {
        detail += " · until " + Dash.clock(new Date(Date.now() + e.ejected_for_seconds * 1000));
      }
      if (e.in_flight) detail += " · " + e.in_flight + " in flight";
      return Dash.chip(e.address + " " + state + detail, e.eligible ? "ok" : "bad",
        e.eligible ? "eligible for requests" : "ejected by passive health after failed connects");
    });
  }

  function matches(value, filter) {
    return !filter || String(value || "").toLowerCase().indexOf(filter) >= 0;
  }

  function render() {
    if (!last) return;
    var host = document.getElementById("filter-host").value.trim().toLowerCase();
    var namespace = document.getElementById("filter-namespace").value.trim().toLowerCase();
    var ingress = document.getElementById("filter-ingress").value.trim().toLowerCase();
    var backends = {};
    last.backends.backends.forEach(function (b) { backends[b.service] = b; });
    var rows = last.routes.routes.filter(function (r) {
      var parts = r.ingress.split("/");
      return matches(r.host || "*", host) && matches(parts[0], namespace) && matches(parts[1], ingress);
    }).map(function (r) {
      var service = r.backend && r.backend.service;
      var target = service ? "Service " + service
        : r.backend && r.backend.resource ? "resource " + r.backend.resource : "built-in 404";
      var policies = (r.policies || []).map(function (p) { return Dash.chip(p); });
      if (r.https_redirect) policies.unshift(Dash.chip("HTTP → HTTPS"));
      return Dash.el("tr", { "data-host": r.host || "*", "data-ingress": r.ingress },
        Dash.el("td", { "data-label": "Host", class: "mono" }, r.host || "* (any host)"),
        Dash.el("td", { "data-label": "Path", class: "mono" }, r.path + " (" + r.path_type + ")"),
        Dash.el("td", { "data-label": "Ingress" }, r.ingress, Dash.el("span", { class: "note" }, " rule " + r.rule.join("/"))),
        Dash.el("td", { "data-label": "Service", class: "mono" }, target),
        Dash.el("td", { "data-label": "Endpoints" }, service ? endpointChips(backends[service]) : "—"),
        Dash.el("td", { "data-label": "Policies" }, policies.length ? policies : "—"));
    });
    Dash.replace(document.querySelector("#routes-table tbody"), rows);
    document.getElementById("routes-empty").hidden = rows.length > 0;
  }

  Dash.views.routes = {
    refresh: function () {
      return Promise.all([Dash.getJSON("/api/routes"), Dash.getJSON("/api/backends")]).then(function (answers) {
        last = { routes: answers[0], backends: answers[1] };
        render();
        return "route table generation " + answers[0].generation;
      });
    },
    init: function () {
      document.getElementById("routes-filter").addEventListener("input", render);
      document.getElementById("routes-filter").addEventListener("submit", function (e) { e.preventDefault(); });
    },
  };
})();
