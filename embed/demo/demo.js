"use strict";
// The demo site's own script: the CyberWidget queue stub (see the README), then a
// button of the site that opens the widget, whether or not the loader has run yet.
window.CyberWidget = window.CyberWidget || (function (q) {
  return { q: q, open: function () { q.push("open"); }, close: function () { q.push("close"); } };
})([]);
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("open-help");
  if (button) button.addEventListener("click", function () { window.CyberWidget.open(); });
});
