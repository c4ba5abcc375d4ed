/* The frame's only script: sizes the frame, moves focus, handles "leave quickly"
 * and the reference number's copy button. Every page works without it. It talks to
 * exactly one window, the parent page, at exactly the origin the server validated
 * (data-parent-origin), and listens to that origin only. Protocol: frame -> parent
 * {type: "cyberwidget:ready" | "cyberwidget:resize" (height, rounded up to coarse
 * steps) | "cyberwidget:leave" | "cyberwidget:close" (Escape: the loader closes its
 * launcher panel) | "cyberwidget:lang" (lang, dir: the page's, on every page)};
 * parent -> frame {type: "cyberwidget:focus"}. */
(function () {
  "use strict";
  var root = document.documentElement;
  var parentOrigin = root.getAttribute("data-parent-origin");
  var parent = window.parent !== window ? window.parent : null;
  var lastHeight = -1;

  function post(message) {
    if (parent && parentOrigin) parent.postMessage(message, parentOrigin);
  }

  // The victim may switch language in the frame: the loader names the widget on
  // the partner's page (its button, panel and Close) in the language of each page.
  post({ type: "cyberwidget:lang", lang: root.lang, dir: root.dir });

  // Focus goes to the heading without scrolling to it: on a phone or zoomed in,
  // that would scroll "Leave quickly" out of view. The top of the page, where
  // "Leave quickly" is, is brought into view instead, only if it is not (the
  // launcher's panel keeps a scroll-padding clear of its sticky close bar).
  function focusHeading() {
    var heading = document.getElementById("cw-heading");
    if (!heading) return;
    heading.focus({ preventScroll: true });
    var top = document.querySelector(".cw-top");
    if (top) top.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  // The height is all a script of the parent page learns from the frame, and an
  // exact one tells which outcome the victim reached (sextortion, a child at
  // risk...). So it is rounded up, never down (nothing is cut, no inner scrollbar),
  // to a ladder of coarse steps, each twice the one before: the page learns the
  // length of what is shown within a factor of two, a class many outcomes share.
  // The frame's background fills the space below the content. The first step is
  // measured, not derived: at 960 px, the longest outcome still shares its step
  // with others in French, English and Arabic from 320 to 1280 px wide; check it
  // with bench/resize_anonymity.py when pages grow (see bench/README.md).
  var FIRST_STEP = 960;

  function stepped(height) {
    var step = FIRST_STEP;
    while (step < height) step *= 2;
    return step;
  }

  function reportHeight() {
    var height = stepped(Math.ceil(root.getBoundingClientRect().height));
    if (height !== lastHeight) {
      lastHeight = height;
      post({ type: "cyberwidget:resize", height: height });
    }
  }

  window.addEventListener("message", function (event) {
    if (!parentOrigin || event.origin !== parentOrigin || event.source !== parent) return;
    var data = event.data;
    if (data && data.type === "cyberwidget:focus") focusHeading();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") post({ type: "cyberwidget:close" });
  });

  // Focus boxes are for keyboard users. A page reached by mouse or touch still
  // moves focus to its heading (screen readers start reading there) but draws no
  // box around it. How the victim last acted is kept for the next page in the
  // frame's window name, which lasts across its pages and which no other origin
  // can read (storage is refused to a third-party frame where cookies are).
  var POINTER = "cw-pointer";
  function usedPointer(pointer) {
    if (pointer) root.setAttribute("data-pointer", "");
    else root.removeAttribute("data-pointer");
    window.name = pointer ? POINTER : "";
  }
  if (window.name === POINTER) root.setAttribute("data-pointer", "");
  document.addEventListener("pointerdown", function () {
    usedPointer(true);
  }, true);
  document.addEventListener("keydown", function (event) {
    if (!event.altKey && !event.ctrlKey && !event.metaKey) usedPointer(false);
  }, true);

  // The first step's one-line alert notice leads to the alerts below the
  // question: focus follows, so a screen reader and the keyboard go on from there.
  document.addEventListener("click", function (event) {
    var jump = event.target instanceof Element ? event.target.closest("a[data-jump]") : null;
    var target = jump && document.getElementById((jump.getAttribute("href") || "").slice(1));
    if (!target) return;
    event.preventDefault();
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "start" });
  });

  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("[data-leave]") : null;
    if (!link) return;
    post({ type: "cyberwidget:leave" });
    try {
      // Replace, not push: the back button must not bring the victim back here.
      window.top.location.replace(link.href);
      event.preventDefault();
    } catch (error) {
      // The link's own target="_top" navigation goes ahead.
    }
  });

  // "Copy the number": shown only where the browser can copy on its own and the
  // page may (see canCopy). Where copying is refused all the same, the number is
  // selected instead and the victim is told to copy it themselves.
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    if (selection) {
      selection.removeAllRanges();
      selection.addRange(range);
    }
  }

  function copyButton(button) {
    var source = document.getElementById(button.getAttribute("data-copy") || "");
    var status = document.getElementById(button.getAttribute("data-copy-status") || "");
    if (!source) return;
    function say(attribute) {
      if (status) status.textContent = button.getAttribute(attribute) || "";
    }
    button.addEventListener("click", function () {
      var text = (source.textContent || "").trim();
      navigator.clipboard.writeText(text).then(
        function () {
          say("data-copied");
        },
        function () {
          selectText(source);
          say("data-copy-failed");
        }
      );
    });
    button.hidden = false;
  }

  // A partner page may frame us without allow="clipboard-write": the button would
  // then always fail, so it stays hidden wherever the policy says no.
  function canCopy() {
    var clipboard = navigator.clipboard;
    if (!clipboard || typeof clipboard.writeText !== "function") return false;
    var policy = document.permissionsPolicy || document.featurePolicy;
    return !policy || typeof policy.allowsFeature !== "function" ||
      policy.allowsFeature("clipboard-write");
  }

  if (canCopy()) {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) copyButton(buttons[i]);
  }

  // The print view's "Print or save as PDF": the browser's own dialog prints
  // this page (without JavaScript the page says to use the browser's command).
  var printers = document.querySelectorAll("button[data-print]");
  for (var p = 0; p < printers.length; p++) {
    printers[p].addEventListener("click", function () {
      window.print();
    });
    printers[p].hidden = false;
  }

  // Times the page writes in UTC (when officers answer live again), in the
  // victim's own time zone and language.
  var times = document.querySelectorAll("time[data-local-time]");
  for (var t = 0; t < times.length; t++) {
    var when = new Date(times[t].getAttribute("datetime") || "");
    if (!isNaN(when.getTime())) {
      times[t].textContent = when.toLocaleString(document.documentElement.lang, {
        dateStyle: "full",
        timeStyle: "short"
      });
    }
  }

  // The sent page, while the report waits for the intake: its status is asked
  // again now and then (what "Check whether they have received it" asks), and the
  // page says so as soon as they have, without a reload; the status is a live
  // region, so a screen reader hears it. Polls thin out, and stop after an hour.
  var waiting = document.querySelector('main[data-page="report-sent"][data-report-state="pending"]');
  var check = waiting && waiting.querySelector('button[name="do"][value="status"]');
  var delays = [1000, 2000, 4000, 8000, 15000, 30000, 60000];
  var asked = 0;
  function askStatus() {
    var form = check.form;
    var body = new URLSearchParams(new FormData(form));
    body.set("do", "status");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var state = fresh && fresh.getAttribute("data-report-state");
        if (!state || state === "pending") return schedule();
        var shown = waiting.querySelector("section[aria-live]");
        var news = fresh.querySelector("section[aria-live]");
        if (shown && news) shown.replaceChildren.apply(shown, Array.from(news.childNodes));
        waiting.setAttribute("data-report-state", state);
        if (state === "delivered") check.form.remove();
      })
      .catch(schedule);
  }
  function schedule() {
    if (asked >= 60) return;
    var delay = delays[Math.min(asked, delays.length - 1)];
    asked += 1;
    window.setTimeout(askStatus, delay);
  }
  if (check && typeof fetch === "function" && typeof DOMParser === "function") schedule();

  if (typeof ResizeObserver === "function") {
    new ResizeObserver(reportHeight).observe(root);
  } else {
    window.addEventListener("resize", reportHeight);
  }
  window.addEventListener("load", reportHeight);
  if (root.hasAttribute("data-autofocus")) focusHeading();
  post({ type: "cyberwidget:ready" });
  reportHeight();
})();
