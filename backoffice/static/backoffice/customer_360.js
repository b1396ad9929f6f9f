// The customer page's sections served apart: the timeline is fetched once the page has
// loaded; the mandates, while a re-sync is pending, every few seconds until nothing is
// pending (or a few minutes).
(function () {
  "use strict";
  var POLL_MS = 3000;
  var MAX_POLLS = 100;
  var polls = 0;

  // Fetches the section's fragment and puts it in place; calls back with the new section,
  // or with null when the fetch failed.
  function refresh(section, url, done) {
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { done(null); return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#" + section.id);
        if (fresh) { section.replaceWith(fresh); }
        done(fresh);
      })
      .catch(function () { done(null); });
  }

  function pollMandates() {
    var section = document.getElementById("mandates");
    if (!section || !section.hasAttribute("data-refresh-url") || polls >= MAX_POLLS) { return; }
    polls += 1;
    refresh(section, section.getAttribute("data-refresh-url"), function (fresh) {
      window.setTimeout(pollMandates, fresh ? POLL_MS : POLL_MS * 2);
    });
  }

  function loadTimeline(attempt) {
    var section = document.getElementById("timeline");
    if (!section || !section.hasAttribute("data-fragment-url")) { return; }
    refresh(section, section.getAttribute("data-fragment-url"), function (fresh) {
      if (fresh) { return; }
      if (attempt < 2) {
        window.setTimeout(function () { loadTimeline(attempt + 1); }, POLL_MS);
        return;
      }
      var status = section.querySelector("[role=status]");
      if (status) { status.textContent = section.getAttribute("data-failed-text"); }
      section.removeAttribute("aria-busy");
    });
  }

  loadTimeline(0);
  window.setTimeout(pollMandates, POLL_MS);
})();
