/* The officers' console kept current without a reload, and replies sent without
 * leaving the page. Every page works without it.
 *
 * It waits on GET /console/api/changes?since=<version> (answered as soon as
 * anything the console shows changes), then fetches its own page again and
 * takes what is new from it: the list's rows, or the case's new messages and
 * status. The markup comes from the server's templates only (parsed inertly by
 * DOMParser, never run); nothing is built from strings here. */
(function () {
  "use strict";
  var main = document.querySelector("main[data-console]");
  if (!main || !window.fetch || !window.DOMParser) return;
  var version = main.getAttribute("data-version") || "";
  var failures = 0;

  function fetchPage(response) {
    return response.text().then(function (html) {
      return new DOMParser().parseFromString(html, "text/html");
    });
  }

  function replace(fresh, id) {
    var now = document.getElementById(id);
    var next = fresh.getElementById(id);
    if (now && next) now.replaceWith(document.adoptNode(next));
  }

  // Only new messages are added, so the log region announces them alone.
  function update(fresh) {
    if (main.getAttribute("data-console") === "list") {
      replace(fresh, "cases");
      return;
    }
    var list = document.getElementById("messages");
    var incoming = fresh.querySelectorAll("#messages > li[data-id]");
    if (list) {
      for (var i = 0; i < incoming.length; i++) {
        var id = incoming[i].getAttribute("data-id");
        if (!list.querySelector('li[data-id="' + CSS.escape(id) + '"]')) {
          list.appendChild(document.adoptNode(incoming[i]));
        }
      }
      list.hidden = list.children.length === 0;
      var none = document.getElementById("no-messages");
      if (none) none.hidden = list.children.length !== 0;
    }
    replace(fresh, "status");
  }

  function refresh() {
    return fetch(location.pathname, { cache: "no-store" }).then(fetchPage).then(update);
  }

  function wait() {
    fetch("/console/api/changes?since=" + encodeURIComponent(version), { cache: "no-store" })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        failures = 0;
        if (answer.version === version) return null;
        version = answer.version;
        return refresh();
      })
      .then(
        function () {
          wait();
        },
        function () {
          failures += 1;
          window.setTimeout(wait, Math.min(30000, 1000 * Math.pow(2, failures)));
        }
      );
  }

  var reply = document.querySelector("form[data-reply]");
  if (reply) {
    reply.addEventListener("submit", function (event) {
      var text = reply.querySelector("textarea");
      if (!text || !text.value.trim()) return; // the server says what is wrong
      event.preventDefault();
      var button = reply.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      fetch(reply.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(reply)),
        cache: "no-store"
      })
        .then(fetchPage)
        .then(function (fresh) {
          update(fresh);
          text.value = "";
          if (button) button.disabled = false;
          text.focus();
        }, function () {
          if (button) button.disabled = false;
          reply.submit();
        });
    });
  }

  wait();
})();
