// Shows the view the address names (#routes, #diagnostics, …) and refreshes it every second,
// plus the views marked `always` (the diagnostics badge). Loaded last.
"use strict";
(function () {
  var PERIOD_MS = 1000;
  var current = null;
  var busy = false;

  function select() {
    var name = (location.hash || "#routes").slice(1);
    if (!Dash.views[name]) name = "routes";
    current = name;
    document.querySelectorAll(".view").forEach(function (view) { view.hidden = view.id !== "view-" + name; });
    document.querySelectorAll("nav a").forEach(function (a) {
      var selected = a.getAttribute("data-view") === name;
      a.classList.toggle("active", selected);
      if (selected) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    tick();
  }

  function tick() {
    if (busy) return;
    busy = true;
    var names = Object.keys(Dash.views).filter(function (n) { return n === current || Dash.views[n].always; });
    Promise.all(names.map(function (n) {
      return Dash.views[n].refresh().then(function (text) { return n === current ? text : null; });
    })).then(function (texts) {
      var text = texts.filter(Boolean)[0] || "";
      Dash.setStatus(text + " · updated " + Dash.clock(new Date()), false);
    }, function (error) {
      Dash.setStatus("cannot reach the admin API: " + error.message, true);
    }).then(function () { busy = false; });
  }

  Object.keys(Dash.views).forEach(function (n) { if (Dash.views[n].init) Dash.views[n].init(); });
  window.addEventListener("hashchange", select);
  select();
  setInterval(tick, PERIOD_MS);
})();
