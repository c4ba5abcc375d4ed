"use strict";
// The fixture frame's side of the widget message protocol (see fixture_frame.py).
const parentOrigin = document.documentElement.dataset.parentOrigin;
const send = (type, extra) =>
  window.parent.postMessage({ type: "cyberwidget:" + type, ...extra }, parentOrigin);
const height = () => Math.ceil(document.documentElement.getBoundingClientRect().height);
new ResizeObserver(() => send("resize", { height: height() })).observe(document.documentElement);
addEventListener("message", (event) => {
  if (event.origin !== parentOrigin || event.source !== window.parent) return;
  if (event.data && event.data.type === "cyberwidget:focus") document.querySelector("h1").focus();
});
addEventListener("keydown", (event) => {
  if (event.key === "Escape") send("close");
});
const content = document.getElementById("content");
document.getElementById("grow").addEventListener("click", () => {
  for (let i = 0; i < 12; i++) content.append(Object.assign(document.createElement("p"), { textContent: "More." }));
});
document.getElementById("shrink").addEventListener("click", () => content.replaceChildren());
document.getElementById("leave").addEventListener("click", () => send("leave"));
send("ready");
