// Runs in every document of the bench (Playwright's init script), before the
// document's own scripts, and reports through the console, which the bench
// listens to without running anything in the page while it waits. Times are
// epoch milliseconds with sub-millisecond precision (performance.timeOrigin +
// a time of the document: one clock for every document and frame).
// - "cw-tap AT": each pointerdown, stamped with the event's own time (when the
//   finger touched, input delay included);
// - "cw-seen {text, at}": each heading the bench looks for (our frame's
//   #cw-heading, SurveyJS's question titles) the first time it is laid out,
//   stamped after the frame that drew it: a requestAnimationFrame callback runs
//   just before rendering, and a message posted from it runs once it is done.
(() => {
  const selector = "#cw-heading, .sd-question__title";
  const known = new Set();
  addEventListener(
    "pointerdown",
    (event) => console.debug("cw-tap " + (performance.timeOrigin + event.timeStamp)),
    true,
  );
  let pending = false;
  function check() {
    pending = false;
    for (const element of document.querySelectorAll(selector)) {
      const text = element.textContent.replace(/\s+/g, " ").trim();
      if (!text || known.has(text) || !element.getClientRects().length) continue;
      known.add(text);
      const channel = new MessageChannel();
      channel.port1.onmessage = () =>
        console.debug("cw-seen " + JSON.stringify({ text, at: performance.timeOrigin + performance.now() }));
      channel.port2.postMessage(0);
    }
  }
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(check);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
