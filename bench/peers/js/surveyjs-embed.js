// The partner's snippet of a platform that built the diagnosis with SurveyJS
// (bench/peers): a start button in the container, and the form in its place
// when the victim taps it, as our inline mode does.
//
// data-load="page": the page's <head> has SurveyJS's stylesheet and scripts
// (`defer`), the way SurveyJS's guide adds them; this script fetches the model
// and builds the survey at load, so a tap only has to draw it. The fastest tap
// SurveyJS can give, paid for before the victim asks.
// data-load="tap": nothing but this script and its button until the tap,
// which loads the stylesheet, both scripts and the model, then draws.
(function () {
  "use strict";
  const script = document.currentScript;
  const base = new URL(".", script.src).href;
  const slot = document.querySelector(script.dataset.target);
  const eager = script.dataset.load === "page";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = script.dataset.label;
  slot.replaceChildren(button);

  function model() {
    return fetch(base + "diagnosis.json").then((response) => response.json());
  }

  function add(tag, properties) {
    return new Promise((loaded, failed) => {
      const element = Object.assign(document.createElement(tag), properties);
      element.onload = loaded;
      element.onerror = failed;
      document.head.append(element);
    });
  }

  function libraries() {
    // Both scripts download at once and run in order (async = false).
    return Promise.all([
      add("link", { rel: "stylesheet", href: base + "survey-core.fontless.min.css" }),
      add("script", { src: base + "survey.core.min.js", async: false }),
      add("script", { src: base + "survey-js-ui.min.js", async: false }),
    ]);
  }

  const ready = eager ? model().then((json) => new Survey.Model(json)) : null;

  button.addEventListener("click", () => {
    button.disabled = true;
    const survey = ready || Promise.all([model(), libraries()]).then(([json]) => new Survey.Model(json));
    survey.then((made) => made.render(slot));
  });
})();
