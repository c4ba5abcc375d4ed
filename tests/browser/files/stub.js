"use strict";
// The queue stub a partner puts in its own script file (see the README).
window.CyberWidget = window.CyberWidget || (function (q) {
  return { q: q, open: function () { q.push("open"); }, close: function () { q.push("close"); } };
})([]);
// A method taken from the stub before the loader runs keeps working after it.
var openHelp = window.CyberWidget.open;
document.addEventListener("DOMContentLoaded", function () {
  document.getElementById("open-help").addEventListener("click", function () { openHelp(); });
});
