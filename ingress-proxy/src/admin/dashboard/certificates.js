// Certificates: host, Secret, issuer, not-after and days left; expired and soon-to-expire
// (30 days) ones marked. Public fields only.
"use strict";
(function () {
  var SOON_DAYS = 30;

  Dash.views.certificates = {
    refresh: function () {
      return Dash.getJSON("/api/certificates").then(function (answer) {
        var rows = answer.certificates.slice().sort(function (a, b) {
          return (a.days_left === undefined ? -1e9 : a.days_left) - (b.days_left === undefined ? -1e9 : b.days_left);
        }).map(function (c) {
          if (c.error) {
            return Dash.el("tr", { class: "expired", "data-host": c.host },
              Dash.el("td", { "data-label": "Host", class: "mono" }, c.host),
              Dash.el("td", { "data-label": "Secret" }, c.secret || "—"),
              Dash.el("td", { "data-label": "Ingress" }, c.ingress || "—"),
              Dash.el("td", { "data-label": "Issuer", colspan: 3 }, Dash.chip("unreadable", "bad"), " ", c.error));
          }
          var state = c.expired ? "expired" : c.days_left < SOON_DAYS ? "soon" : "";
          var label = c.expired ? "expired" : c.days_left + " days";
          return Dash.el("tr", { class: state || null, "data-host": c.host },
            Dash.el("td", { "data-label": "Host", class: "mono" }, c.host === "_" ? "_ (default certificate)" : c.host),
            Dash.el("td", { "data-label": "Secret" }, c.secret || "—"),
            Dash.el("td", { "data-label": "Ingress" }, c.ingress || "—"),
            Dash.el("td", { "data-label": "Issuer" }, c.issuer),
            Dash.el("td", { "data-label": "Not after" }, new Date(c.not_after * 1000).toISOString().slice(0, 10)),
            Dash.el("td", { "data-label": "Days left" }, Dash.chip(label, c.expired ? "bad" : state ? "warn" : "ok")));
        });
        Dash.replace(document.querySelector("#certificates-table tbody"), rows);
        document.getElementById("certificates-empty").hidden = rows.length > 0;
        return rows.length + " certificates";
      });
    },
  };
})();
