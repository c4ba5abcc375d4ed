/*! CyberWidget loader: options, API, queue and CSP in the README */
(function () {
  "use strict";
  var d = document,
    w = window,
    s = d.currentScript,
    o = s.dataset,
    W = new URL(s.src).origin,
    P = "cyberwidget:",
    mode = o.mode || "launcher",
    lang = o.lang || d.documentElement.lang || navigator.language || "fr",
    T = {
      fr: ["Aide aux victimes", "Fermer"],
      en: ["Help for victims", "Close"],
      ar: ["مساعدة الضحايا", "إغلاق"],
      nl: ["Hulp voor slachtoffers", "Sluiten"],
    }[lang.slice(0, 2).toLowerCase()] || ["Help for victims", "Close"],
    label = o.label || T[0],
    side = { left: "l", right: "r" }[o.position] || "e",
    // see "Layout shift" in the README
    H = o.height || "100vh",
    box, dlg, facade, f, ready, want, host;

  function el(tag, props, parent) {
    var e = Object.assign(d.createElement(tag), props);
    if (parent) parent.append(e);
    return e;
  }

  function focus() {
    if (ready && want) {
      want = 0;
      f.focus();
      f.contentWindow.postMessage({ type: P + "focus" }, W);
    }
  }

  function frame() {
    if (!f) {
      host.style.setProperty("--cw-h", H);
      f = el("iframe", {
        title: label,
        allow: "clipboard-write",
        src: W + "/w/" + encodeURIComponent(o.embed) + "?origin=" +
          encodeURIComponent(location.origin) + "&lang=" + encodeURIComponent(lang),
      });
      box.replaceChildren(f);
    }
  }

  function open() {
    if (dlg && !dlg.open) dlg.showModal();
    frame();
    want = 1;
    focus();
  }

  function close() {
    want = 0;
    if (dlg) dlg.close();
  }

  function leave() {
    f = ready = 0;
    box.replaceChildren(facade || "");
    close();
  }

  function run(c) {
    c = api[typeof c == "string" ? c : c && c[0]];
    if (c) c();
  }

  var api = { open, close, push: run };

  function init() {
    var slot = o.target && d.querySelector(o.target),
      root = (host = el("cyber-widget")).attachShadow({ mode: "open" }),
      css = new CSSStyleSheet();
    if (slot) slot.replaceChildren(host);
    else d.body.append(host);
    css.replaceSync(`
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
    root.adoptedStyleSheets = [css];
    if (mode == "launcher") {
      el("button", { className: "b " + side, textContent: label, onclick: open, ariaHasPopup: "dialog" },
        root);
      dlg = el("dialog", { className: side, ariaLabel: label }, root);
      el("button", { className: "x", textContent: "×", ariaLabel: T[1], onclick: close },
        el("header", {}, dlg));
      box = el("div", {}, dlg);
    } else {
      box = root;
      facade = el("button", { textContent: label, onclick: open }, root);
      if (mode == "page") frame();
    }
    w.addEventListener("message", function (e) {
      var m = e.data || {},
        t = m.type;
      if (e.origin !== W || !f || e.source !== f.contentWindow) return;
      if (t == P + "resize") f.style.height = Math.min(m.height | 0, 1e5) + "px";
      else if (t == P + "leave") leave();
      else if (t == P + "close") close();
      else if (t == P + "ready") {
        ready = 1;
        focus();
      }
    });
    var q = w.CyberWidget;
    q = q && q.q || q;
    w.CyberWidget = api;
    if (q && q.forEach) {
      q.forEach(run);
      q.push = run;
    }
  }

  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", init) : init();
})();
