// Diagnostics: every rejected object, conflict, missing Secret and invalid or ignored
// annotation, newest first (by when this page first saw it; the API lists the table's order).
"use strict";
(function () {
  var firstSeen = {};
  var sequence = 0;

  Dash.views.diagnostics = {
    always: true,
    refresh: function () {
      return Dash.getJSON("/api/diagnostics").then(function (answer) {
        var now = new Date();
        var items = answer.diagnostics.map(function (d, index) {
          var key = d.object + "\u0000" + d.reason + "\u0000" + d.message;
          if (!firstSeen[key]) firstSeen[key] = { at: now, order: sequence++ };
          return { d: d, seen: firstSeen[key], index: index };
        });
        items.sort(function (a, b) { return b.seen.order - a.seen.order || b.index - a.index; });
        var kind = function (reason) { return /Ignored|Warning/.test(reason) ? "warn" : "bad"; };
        Dash.replace(document.getElementById("diagnostics-list"), items.map(function (item) {
          return Dash.el("li", { "data-object": item.d.object, "data-reason": item.d.reason },
            Dash.chip(item.d.reason, kind(item.d.reason)), " ",
            Dash.el("strong", null, item.d.object),
            Dash.el("div", null, item.d.message),
            Dash.el("div", { class: "meta" }, "first seen " + Dash.clock(item.seen.at)));
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
