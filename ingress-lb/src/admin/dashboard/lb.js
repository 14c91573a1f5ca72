// ingress-lb's one view: VRRP state, upstream groups with their servers, listeners — drawn
// from /api/status every second. Only reads.
"use strict";
(function () {
  var STATE_KIND = { up: "ok", backup: "warn", unavailable: "bad", down: "bad" };

  function vrrp(v) {
    var node = document.getElementById("vrrp");
    if (!v) { Dash.replace(node, Dash.el("p", { class: "note" }, "No VRRP instance is configured.")); return; }
    var kind = v.state === "MASTER" ? "ok" : v.state === "BACKUP" ? "warn" : "bad";
    var last = v.last_transition
      ? v.last_transition.from + " → " + v.last_transition.to + " at " + Dash.clock(new Date(v.last_transition.time * 1000))
      : "none yet";
    Dash.replace(node,
      Dash.el("p", { class: "decision" }, Dash.chip(v.state || "not started", kind), " on " + v.interface + ", virtual router " + v.virtual_router_id),
      Dash.el("p", null, "Priority " + v.priority + (v.effective_priority !== v.priority ? " (advertising " + v.effective_priority + ")" : "") +
        " · VIP " + v.virtual_addresses.join(", ") + " · last transition: " + last),
      v.error ? Dash.el("p", null, Dash.chip("stopped", "bad"), " " + v.error) : null);
  }

  function group(g) {
    var rows = g.servers.map(function (s) {
      return Dash.el("tr", { "data-address": s.address, "data-state": s.state },
        Dash.el("td", { "data-label": "Server", class: "mono" }, s.address),
        Dash.el("td", { "data-label": "Weight" }, String(s.weight)),
        Dash.el("td", { "data-label": "State" }, Dash.chip(s.state, STATE_KIND[s.state]),
          s.ejected_for_seconds !== null && s.ejected_for_seconds !== undefined
            ? " until " + Dash.clock(new Date(Date.now() + s.ejected_for_seconds * 1000)) : null),
        Dash.el("td", { "data-label": "Active" }, String(s.active_connections)),
        Dash.el("td", { "data-label": "Failures" }, s.failures + (s.max_fails ? " / max " + s.max_fails : "")));
    });
    return Dash.el("div", { class: "card", "data-group": g.name },
      Dash.el("h4", null, g.name, Dash.el("span", { class: "note" }, " " + g.algorithm + (g.active_health_check ? ", active health checks" : ""))),
      Dash.el("div", { class: "scroll" }, Dash.el("table", null,
        Dash.el("thead", null, Dash.el("tr", null, ["Server", "Weight", "State", "Active", "Failures"].map(function (h) { return Dash.el("th", null, h); }))),
        Dash.el("tbody", null, rows))));
  }

  function listeners(list) {
    Dash.replace(document.querySelector("#listeners-table tbody"), list.map(function (l) {
      var options = [];
      if (l.proxy_protocol) options.push(Dash.chip("PROXY " + l.proxy_protocol));
      if (l.ssl_preread) options.push(Dash.chip("ssl_preread"));
      if (l.max_connections) options.push(Dash.chip("max " + l.max_connections));
      Object.keys(l.server_names || {}).forEach(function (name) { options.push(Dash.chip(name + " → " + l.server_names[name])); });
      return Dash.el("tr", { "data-address": l.address },
        Dash.el("td", { "data-label": "Address", class: "mono" }, l.address),
        Dash.el("td", { "data-label": "Upstream" }, l.upstream),
        Dash.el("td", { "data-label": "Open" }, String(l.active_connections)),
        Dash.el("td", { "data-label": "Options" }, options.length ? options : "—"));
    }));
  }

  function tick() {
    Dash.getJSON("/api/status").then(function (status) {
      vrrp(status.vrrp);
      var groups = document.getElementById("groups");
      Dash.replace(groups, Dash.el("div", { class: "stack" }, status.groups.map(group)));
      listeners(status.listeners);
      Dash.setStatus("configuration generation " + status.generation + " · updated " + Dash.clock(new Date()), false);
    }, function (error) {
      Dash.setStatus("cannot reach the admin API: " + error.message, true);
    });
  }

  tick();
  setInterval(tick, 1000);
})();
