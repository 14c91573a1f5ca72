// Shared helpers of the dashboard's views: element building (text only, never HTML from the
// API), JSON polling, the status line, and the error list the page keeps for its tests.
"use strict";
var Dash = {
  views: {},
  errors: [],

  // el("td", {class: "x", "data-label": "Host"}, "text", childElement, ...)
  el: function (tag, attrs) {
    var node = document.createElement(tag);
    var name;
    for (name in attrs || {}) {
      if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
    }
    for (var i = 2; i < arguments.length; i++) Dash.append(node, arguments[i]);
    return node;
  },

  append: function (node, child) {
    if (child === null || child === undefined) return;
    if (Array.isArray(child)) { child.forEach(function (c) { Dash.append(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  },

  replace: function (node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    for (var i = 1; i < arguments.length; i++) Dash.append(node, arguments[i]);
  },

  chip: function (text, kind, title) {
    return Dash.el("span", { class: "chip" + (kind ? " " + kind : ""), title: title || null }, text);
  },

  getJSON: function (path) {
    return fetch(path, { cache: "no-store", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error(path + ": HTTP " + response.status);
      return response.json();
    });
  },

  setStatus: function (text, bad) {
    var status = document.getElementById("status");
    if (!status) return;
    status.className = bad ? "bad" : "";
    status.textContent = text;
  },

  clock: function (date) {
    return date.toLocaleTimeString([], { hour12: false });
  },
};

// Uncaught errors are kept (and shown) so nothing fails silently; the browser tests read them.
window.addEventListener("error", function (event) {
  Dash.errors.push(String(event.message || event.type));
  Dash.setStatus("script error: " + event.message, true);
});
window.addEventListener("unhandledrejection", function (event) {
  Dash.errors.push(String(event.reason));
});
