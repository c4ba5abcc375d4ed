/* The frame's only script: sizes the frame, moves focus, handles "leave quickly"
 * and the reference number's copy button. Every page works without it. It talks to
 * exactly one window, the parent page, at exactly the origin the server validated
 * (data-parent-origin), and listens to that origin only. Protocol: frame -> parent
 * {type: "cyberwidget:ready" | "cyberwidget:resize" (height) | "cyberwidget:leave" |
 * "cyberwidget:close" (Escape: the loader closes its launcher panel)};
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

  function focusHeading() {
    var heading = document.getElementById("cw-heading");
    if (heading) heading.focus();
  }

  function reportHeight() {
    var height = Math.ceil(root.getBoundingClientRect().height);
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

  // "Copy the number": shown only where the browser can copy on its own. Where
  // copying is refused (an old browser, a host page that did not allow it), the
  // number is selected instead and the victim is told to copy it themselves.
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

  if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) copyButton(buttons[i]);
  }

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
