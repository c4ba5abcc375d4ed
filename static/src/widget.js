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
  // What the widget shows on the host page in each language it speaks: its
  // name (the launcher's label, the panel's title, the frame's title), the
  // close button's name, and the direction of the script when not ltr.
  const strings = {
    fr: ["Aide aux victimes", "Fermer"],
    en: ["Help for victims", "Close"],
    ar: ["مساعدة الضحايا", "إغلاق", "rtl"],
    nl: ["Hulp voor slachtoffers", "Sluiten"],
  };
  // The widget's language of a tag ("fr-BE", "AR"...), if it speaks it. Two
  // letters name no property every object has, so only our languages match.
  function ours(tag) {
    tag = ("" + tag).slice(0, 2).toLowerCase();
    return strings[tag] && tag;
  }
  // The language of the page, until the frame (which speaks the victim's
  // language itself, and lets them switch) tells its own.
  const first = ours(language) || "en";
  // The partner's own label is in the page's language: shown in that one only.
  const label = options.label || strings[first][0];
  // The height reserved for an inline or page widget: see "Layout shift" in the README.
  const reservedHeight = options.height || "100vh";

  let container; // where the frame goes: the dialog's body, or the shadow root
  let dialog; // the launcher's dialog
  let facade; // an inline widget's button, shown again when the victim leaves
  let frame; // the iframe, made on first opening
  let frameReady; // the frame said it is ready to take focus
  let focusWanted; // the victim opened the widget and focus should follow
  let host; // the <cyber-widget> element on the partner's page
  let name; // the widget's name on the host page, in the frame's language
  let closer; // the launcher's close button
  let named; // the elements whose text is the widget's name

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
        title: name,
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

  // Names the widget in one of its languages, and gives its elements that
  // language and direction. Their side of the page stays the page's: the
  // launcher and its panel do not jump across when the victim switches.
  function speak(code) {
    const words = strings[code];
    if (!words) return;
    name = code == first ? label : words[0];
    host.lang = code;
    host.dir = words[2] || "ltr";
    named.forEach((shown) => (shown.textContent = name));
    if (closer) closer.ariaLabel = words[1];
    if (frame) frame.title = name;
  }

  // The box of an inline or page widget holds its reserved height until the
  // frame says how tall it is, then gives back what the frame leaves blank,
  // but only below the bottom of the window (or when it scrolls there), so
  // nothing the visitor sees moves up: see "Layout shift" in the README.
  function fit() {
    const box = host.getBoundingClientRect();
    // Below zero (the box is all below the window), the length is invalid and
    // the box has no least height: it is as tall as the frame.
    host.style.setProperty("--cw-h", Math.min(box.height, innerHeight - box.top) + "px");
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
    // Which side the launcher sits on: left, right, or the end of the page's
    // line (the right in French, the left in Arabic).
    const side =
      { left: "l", right: "r" }[options.position] ||
      (getComputedStyle(host).direction == "rtl" ? "l" : "r");
    // Every rule is !important or inside the shadow, so no style of the host
    // page changes the widget, and ours never touch the page. On a phone the
    // panel takes the whole screen: the first question and its first answers fit.
    // Each line ends in a backslash, so the string every visitor downloads holds
    // no newline.
    styles.replaceSync(`
:host{all:initial!important;display:${mode == "launcher" ? "contents" : "block"}!important;\
min-height:var(--cw-h)!important}\
*{box-sizing:border-box;margin:0;padding:0;font:16px/1.4 system-ui,sans-serif}\
button{border:2px solid #0000;border-radius:2em;padding:9.2px 17.2px;cursor:pointer;\
min-height:44px;background:#000091;color:#fff;font-weight:700}\
button:focus-visible{outline:3px solid #000091;outline-offset:3px;box-shadow:0 0 0 3px #fff}\
.b{position:fixed;bottom:16px;z-index:2147483647}\
dialog{position:fixed;inset:auto;bottom:80px;scroll-padding-top:56px;\
border:2px solid #0000;width:min(416px,100vw - 32px);max-height:calc(100dvh - 96px);\
overflow:auto;border-radius:16px;background:#fff;box-shadow:0 8px 32px #0005}\
::backdrop{background:#0003}\
.l{left:16px}.r{right:16px}\
.t{position:sticky;top:0;display:flex;align-items:center;padding:6px;background:#fff}\
#t{flex:1;margin:0 10px;font-weight:700}\
.x{background:none;color:#000091;width:44px;padding:0;font-size:24px}\
iframe{display:block;width:100%;height:320px;border:0}\
@media(max-width:480px){dialog[class]{inset:0;max-width:none;max-height:none;width:auto;height:auto;border-radius:0}}`);
    root.adoptedStyleSheets = [styles];
    if (mode == "launcher") {
      const launcher = element(
        "button",
        { className: "b " + side, onclick: open, ariaHasPopup: "dialog" },
        root,
      );
      dialog = element("dialog", { className: side }, root);
      // The panel is named by its title. Its bar is a plain div: a <header>
      // would add a second "banner" landmark to the partner's page.
      dialog.setAttribute("aria-labelledby", "t");
      const bar = element("div", { className: "t" }, dialog);
      named = [launcher, element("span", { id: "t" }, bar)];
      closer = element("button", { className: "x", textContent: "×", onclick: close }, bar);
      container = element("div", {}, dialog);
    } else {
      container = root;
      named = [(facade = element("button", { onclick: open }, root))];
    }
    speak(first);
    if (mode == "page") makeFrame();
    // Only our frame, from our origin, is listened to; a message from anywhere
    // else (the page itself, another frame) is ignored.
    addEventListener("message", (event) => {
      const message = event.data || {};
      const type = message.type;
      if (event.origin !== widgetOrigin || !frame || event.source !== frame.contentWindow) return;
      if (type == messagePrefix + "resize") {
        if (!dialog) {
          fit();
          // Any scroll of the page, from now on (added once: it is the same listener).
          addEventListener("scroll", fit, true);
        }
        frame.style.height = Math.min(message.height | 0, 1e5) + "px";
      } else if (type == messagePrefix + "lang") speak(ours(message.lang));
      else if (type == messagePrefix + "leave") leave();
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
