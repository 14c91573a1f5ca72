// Diagnostics: every rejected object, conflict, missing Secret and invalid or ignored
// annotation, newest first (the API's order: by when the proxy first served each one).
"use strict";
(function () {
  Dash.views.diagnostics = {
    always: true,
    refresh: function () {
      return Dash.getJSON("/api/diagnostics").then(function (answer) {
        var kind = function (reason) { return /Ignored|Enforced|NotApplied|Adjusted/.test(reason) ? "warn" : "bad"; };
        var items = answer.diagnostics;
        Dash.replace(document.getElementById("diagnostics-list"), items.map(function (d) {
          return Dash.el("li", { "data-object": d.object, "data-reason": d.reason },
            Dash.chip(d.reason, kind(d.reason)), " ",
            Dash.el("strong", null, d.object),
            Dash.el("div", null, d.message),
            Dash.el("div", { class: "meta" }, "since " + Dash.clock(new Date(d.first_seen * 1000))));
        }));
        document.getElementById("diagnostics-empty").hidden = items.length > 0;
        var badge = document.getElementById("diagnostics-count");
        badge.hidden = items.length === 0;
        badge.textContent = String(items.length);
        return "route table generation " + answer.generation;
      });
    },
  };
})();
