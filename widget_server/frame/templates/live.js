/* The case page kept current without a reload: an officer's message appears as
 * soon as the server has it, and the victim's own messages are sent without
 * leaving the page. Loaded on case pages only; the page works without it (its
 * "Check for new messages" button reloads).
 *
 * It asks one address of our own server (main[data-live-url], allowed by the
 * page's connect-src 'self'), posting the case token from the page's hidden
 * field (never in a URL) and the version it shows; the server answers at once
 * when something changed, or after a long wait when nothing did. Every text the
 * answer holds goes into the page with textContent, never as markup. */
(function () {
  "use strict";
  var main = document.querySelector("main[data-live-url]");
  if (!main || !window.fetch || !window.FormData || !window.URLSearchParams) return;
  var url = main.getAttribute("data-live-url");
  var list = document.getElementById("cw-messages");
  var none = document.getElementById("cw-messages-none");
  var queue = document.getElementById("cw-live-status");
  var status = main.querySelector("[data-case-status]");
  var writer = main.querySelector("form[data-write]");
  var error = document.getElementById("cw-message-error");
  var saved = document.getElementById("cw-message-saved");
  var version = main.getAttribute("data-live-version") || "";
  var failures = 0;
  var writes = 0;
  var stopped = false;

  function tokenFields() {
    return main.querySelectorAll('input[name="case"]');
  }

  function token() {
    var field = tokenFields()[0];
    return field ? field.value : "";
  }

  function say(element, text) {
    if (!element || element.textContent === text) return;
    element.textContent = text;
    element.hidden = !text;
  }

  function messageItem(message) {
    var item = document.createElement("li");
    item.className = "cw-message";
    item.setAttribute("data-from", message.from);
    item.setAttribute("data-id", message.id);
    var meta = document.createElement("p");
    meta.className = "cw-message-meta";
    meta.textContent = message.meta;
    var text = document.createElement("p");
    text.className = "cw-message-text";
    text.dir = "auto";
    text.textContent = message.text;
    item.appendChild(meta);
    item.appendChild(text);
    return item;
  }

  // New messages are appended (the log region announces additions only); a
  // message already shown only has its line of state brought up to date.
  function showMessages(messages) {
    if (!list) return;
    for (var i = 0; i < messages.length; i++) {
      var message = messages[i];
      var shown = list.querySelector('li[data-id="' + CSS.escape(message.id) + '"]');
      if (shown) {
        var meta = shown.querySelector(".cw-message-meta");
        if (meta && meta.textContent !== message.meta) meta.textContent = message.meta;
      } else {
        list.appendChild(messageItem(message));
      }
    }
    list.hidden = messages.length === 0;
    if (none) none.hidden = messages.length !== 0;
  }

  function show(answer) {
    if (answer.case) {
      var fields = tokenFields();
      for (var i = 0; i < fields.length; i++) fields[i].value = answer.case;
    }
    if (answer.version) version = answer.version;
    if (answer.messages) showMessages(answer.messages);
    if (queue && typeof answer.live_text === "string") say(queue, answer.live_text);
    if (status && answer.status_text) say(status, answer.status_text);
    if (answer.live_state) {
      main.setAttribute("data-live-state", answer.live_state);
      if (answer.live_state === "fallback") main.removeAttribute("data-live");
    }
    if (writer && answer.accepting_messages === false) writer.hidden = true;
  }

  function ask(fields) {
    fields.set("case", token());
    fields.set("seen", version);
    return fetch(url, {
      method: "POST",
      body: new URLSearchParams(fields),
      credentials: "omit",
      cache: "no-store",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (answer.expired) stopped = true;
        return answer;
      });
    });
  }

  // One request at a time waits for news; after a failure (the network, a
  // restart) it waits longer each time, up to half a minute.
  function poll() {
    if (stopped) return;
    ask(new URLSearchParams()).then(
      function (answer) {
        failures = answer.unavailable ? failures + 1 : 0;
        show(answer);
        if (answer.expired) {
          say(queue || error, answer.error);
          return;
        }
        window.setTimeout(poll, answer.retry || 0);
      },
      function () {
        failures += 1;
        window.setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
      }
    );
  }

  if (writer) {
    writer.addEventListener("submit", function (event) {
      var textarea = writer.querySelector("textarea");
      if (!textarea || stopped) return; // the form is posted as without a script
      event.preventDefault();
      var button = writer.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      var fields = new URLSearchParams();
      fields.set("do", "write");
      fields.set("text", textarea.value);
      ask(fields).then(
        function (answer) {
          if (button) button.disabled = false;
          show(answer);
          // How many writes the server answered: tests wait on it, nothing reads it else.
          writes += 1;
          main.setAttribute("data-writes", String(writes));
          if (answer.sent) {
            textarea.value = "";
            textarea.removeAttribute("aria-invalid");
            say(error, "");
            say(saved, answer.notice || "");
          } else if (answer.error) {
            say(saved, "");
            say(error, answer.error);
            textarea.setAttribute("aria-invalid", "true");
          }
          textarea.focus();
        },
        function () {
          // The server answers with a page, as without a script.
          stopped = true;
          if (button) button.disabled = false;
          writer.requestSubmit(button || undefined);
        }
      );
    });
  }

  main.setAttribute("data-live-ready", "");
  poll();
})();
