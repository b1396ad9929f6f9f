// Live progress of a debit run: polls the run's small JSON endpoint until it is done.
(function () {
  "use strict";
  var panel = document.getElementById("run-progress");
  if (!panel) { return; }
  var url = panel.getAttribute("data-progress-url");
  var POLL_MS = 1000;

  function setField(name, value) {
    panel.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
      if (el.tagName === "PROGRESS") { el.value = value; el.textContent = value + " %"; }
      else { el.textContent = value; }
    });
  }

  // Codes are shown by their label in the page's language (the endpoint sends them).
  function fillTable(name, counts, labels) {
    var body = document.querySelector('[data-table="' + name + '"]');
    if (!body) { return; }
    var keys = Object.keys(counts);
    if (!keys.length) { return; }
    body.textContent = "";
    keys.sort(function (a, b) { return counts[b] - counts[a]; }).forEach(function (key) {
      var row = document.createElement("tr");
      var label = document.createElement("td");
      label.textContent = (labels && labels[key]) || key;
      var count = document.createElement("td");
      count.className = "num";
      count.textContent = counts[key];
      row.appendChild(label);
      row.appendChild(count);
      body.appendChild(row);
    });
  }

  function update(data) {
    ["state_display", "chunks_done", "chunks_total", "selected", "skipped", "percent"].forEach(
      function (name) { setField(name, data[name]); }
    );
    Object.keys(data.attempts_by_state).forEach(function (state) {
      var el = panel.querySelector('[data-state-count="' + state + '"]');
      if (el) { el.textContent = data.attempts_by_state[state]; }
    });
    fillTable("failures_by_code", data.failures_by_code, data.labels);
    fillTable("skips_by_reason", data.skips_by_reason, data.labels);
    panel.setAttribute("data-state", data.state);
    return data.state === "running";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && update(data)) { window.setTimeout(poll, POLL_MS); }
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 5); });
  }

  if (panel.getAttribute("data-state") === "running") { poll(); }
})();
