// The customer page's mandates while a re-sync is pending: fetch the section alone
// every few seconds and put it in place, until nothing is pending (or a few minutes).
(function () {
  "use strict";
  var POLL_MS = 3000;
  var MAX_POLLS = 100;
  var polls = 0;

  function poll() {
    var section = document.getElementById("mandates");
    if (!section || !section.hasAttribute("data-refresh-url") || polls >= MAX_POLLS) { return; }
    polls += 1;
    fetch(section.getAttribute("data-refresh-url"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#mandates");
        if (!fresh) { return; }
        section.replaceWith(fresh);
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 2); });
  }

  window.setTimeout(poll, POLL_MS);
})();
