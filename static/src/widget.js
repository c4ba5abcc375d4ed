/*! CyberWidget loader: options, API, queue and CSP in the README */
// The loader a partner's page includes with one <script> tag. It is the only
// code of ours that runs on the partner's page, so it stays small (2 KB
// gzipped, tests/frame/test_sizes.py), builds the widget in a closed shadow of
// its own (the host's styles cannot reach it, ours cannot leak out), and
// talks with the frame only through postMessage checked against its origin.
//
// This is the readable source. `scripts/build-loader` minifies it with
// esbuild into static/widget.js, the file that is served; a test rebuilds it
// and fails if the committed copy differs. Edit here, then run
// `scripts/release-loader`.
(function () {
  "use strict";

  const script = document.currentScript;
  const options = script.dataset;
  // The widget's own origin: the frame comes from there, and only messages
  // from there are believed.
  const widgetOrigin = new URL(script.src).origin;
  const messagePrefix = "cyberwidget:";
  const mode = options.mode || "launcher";
  const language = options.lang || document.documentElement.lang || navigator.language || "fr";
  // The launcher's label and the close button's name, before the frame (which
  // speaks the victim's language itself) has loaded.
  const texts = {
    fr: ["Aide aux victimes", "Fermer"],
    en: ["Help for victims", "Close"],
    ar: ["مساعدة الضحايا", "إغلاق"],
    nl: ["Hulp voor slachtoffers", "Sluiten"],
  }[language.slice(0, 2).toLowerCase()] || ["Help for victims", "Close"];
  const label = options.label || texts[0];
  // Which side the launcher sits on: left, right, or the end of the line
  // (the right in French, the left in Arabic).
  const side = { left: "l", right: "r" }[options.position] || "e";
  // The height reserved for an inline or page widget: see "Layout shift" in the README.
  const reservedHeight = options.height || "100vh";

  let container; // where the frame goes: the dialog's body, or the shadow root
  let dialog; // the launcher's dialog
  let facade; // an inline widget's button, shown again when the victim leaves
  let frame; // the iframe, made on first opening
  let frameReady; // the frame said it is ready to take focus
  let focusWanted; // the victim opened the widget and focus should follow
  let host; // the <cyber-widget> element on the partner's page

  function element(tag, properties, parent) {
    const made = Object.assign(document.createElement(tag), properties);
    if (parent) parent.append(made);
    return made;
  }

  // Focus moves into the frame once it is both wanted and possible.
  function focusFrame() {
    if (frameReady && focusWanted) {
      focusWanted = 0;
      frame.focus();
      frame.contentWindow.postMessage({ type: messagePrefix + "focus" }, widgetOrigin);
    }
  }

  function makeFrame() {
    if (!frame) {
      host.style.setProperty("--cw-h", reservedHeight);
      frame = element("iframe", {
        title: label,
        allow: "clipboard-write",
        src: widgetOrigin + "/w/" + encodeURIComponent(options.embed) + "?origin=" +
          encodeURIComponent(location.origin) + "&lang=" + encodeURIComponent(language),
      });
      container.replaceChildren(frame);
    }
  }

  function open() {
    if (dialog && !dialog.open) dialog.showModal();
    makeFrame();
    focusWanted = 1;
    focusFrame();
  }

  function close() {
    focusWanted = 0;
    if (dialog) dialog.close();
  }

  // "Leave quickly": the frame and all it showed are gone at once.
  function leave() {
    frame = frameReady = 0;
    container.replaceChildren(facade || "");
    close();
  }

  // One command of the page's script: "open", "close", or ["open"].
  function run(command) {
    command = api[typeof command == "string" ? command : command && command[0]];
    if (command) command();
  }

  const api = { open, close, push: run };

  function init() {
    const slot = options.target && document.querySelector(options.target);
    const root = (host = element("cyber-widget")).attachShadow({ mode: "open" });
    const styles = new CSSStyleSheet();
    if (slot) slot.replaceChildren(host);
    else document.body.append(host);
    // Every rule is !important or inside the shadow, so no style of the host
    // page changes the widget, and ours never touch the page.
    styles.replaceSync(`
:host{all:initial!important;display:${mode == "launcher" ? "contents" : "block"}!important;
min-height:var(--cw-h)!important}
*{box-sizing:border-box;margin:0;padding:0;font:16px/1.4 system-ui,sans-serif}
button{border:2px solid #0000;border-radius:2em;padding:9.2px 17.2px;cursor:pointer;
min-height:44px;background:#000091;color:#fff;font-weight:700}
button:focus-visible{outline:3px solid #000091;outline-offset:3px;box-shadow:0 0 0 3px #fff}
.b{position:fixed;bottom:16px;z-index:2147483647}
dialog{position:fixed;inset:auto;bottom:80px;scroll-padding-top:56px;
border:2px solid #0000;width:min(416px,100vw - 32px);max-height:calc(100dvh - 96px);
overflow:auto;border-radius:16px;background:#fff;box-shadow:0 8px 32px #0005}
::backdrop{background:#0003}
.e{inset-inline-end:16px}.l{left:16px}.r{right:16px}
header{position:sticky;top:0;display:flex;justify-content:end;padding:6px;background:#fff}
.x{background:none;color:#000091;width:44px;padding:0;font-size:24px}
iframe{display:block;width:100%;height:320px;border:0}`);
    root.adoptedStyleSheets = [styles];
    if (mode == "launcher") {
      element(
        "button",
        { className: "b " + side, textContent: label, onclick: open, ariaHasPopup: "dialog" },
        root,
      );
      dialog = element("dialog", { className: side, ariaLabel: label }, root);
      element(
        "button",
        { className: "x", textContent: "×", ariaLabel: texts[1], onclick: close },
        element("header", {}, dialog),
      );
      container = element("div", {}, dialog);
    } else {
      container = root;
      facade = element("button", { textContent: label, onclick: open }, root);
      if (mode == "page") makeFrame();
    }
    // Only our frame, from our origin, is listened to; a message from anywhere
    // else (the page itself, another frame) is ignored.
    window.addEventListener("message", function (event) {
      const message = event.data || {};
      const type = message.type;
      if (event.origin !== widgetOrigin || !frame || event.source !== frame.contentWindow) return;
      if (type == messagePrefix + "resize") {
        frame.style.height = Math.min(message.height | 0, 1e5) + "px";
      } else if (type == messagePrefix + "leave") leave();
      else if (type == messagePrefix + "close") close();
      else if (type == messagePrefix + "ready") {
        frameReady = 1;
        focusFrame();
      }
    });
    // Commands the page queued before the loader arrived
    // (window.CyberWidget = [["open"]], or the snippet's q), then the real API.
    let queued = window.CyberWidget;
    queued = (queued && queued.q) || queued;
    window.CyberWidget = api;
    if (queued && queued.forEach) {
      queued.forEach(run);
      queued.push = run;
    }
  }

  if (document.readyState == "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
