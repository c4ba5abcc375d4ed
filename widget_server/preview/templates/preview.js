/* The preview's only script, loaded in the head (not deferred) so that it hears the
 * frames' first messages. It reloads the page when the trees folder changes: the
 * server's event stream (data-changes) sends the folder's generation, and the page was
 * drawn at data-generation. It also sizes each node's frame when the frame says its
 * height changed (messages from this origin and from our frames only). */
(function () {
  "use strict";

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== window.location.origin || !data || data.type !== "cyberwidget:resize") {
      return;
    }
    var frames = document.querySelectorAll("iframe[data-locale]");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source && typeof data.height === "number") {
        // The message rounds the height up to a coarse step, for victims' privacy;
        // the preview's frames are of this origin, so it measures the page itself.
        var page = frames[i].contentDocument && frames[i].contentDocument.documentElement;
        var height = page ? Math.ceil(page.getBoundingClientRect().height) : data.height;
        frames[i].style.height = Math.min(Math.max(height, 120), 4000) + "px";
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    var drawnAt = body.getAttribute("data-generation");
    var source = new EventSource(body.getAttribute("data-changes"));
    source.addEventListener("message", function (event) {
      if (event.data !== drawnAt) {
        source.close();
        window.location.reload();
      }
    });
  });
})();
