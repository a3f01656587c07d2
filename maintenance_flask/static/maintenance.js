// Self-refreshing sections: <section data-refresh-url="/partials/..." data-refresh-seconds="5">
// is replaced by a fresh server-rendered fragment every few seconds (no inline script; CSP-safe).
(function () {
  "use strict";

  function refresher(section) {
    var url = section.getAttribute("data-refresh-url");
    var seconds = parseInt(section.getAttribute("data-refresh-seconds"), 10) || 5;
    var state = document.querySelector("[data-refresh-state]");
    var busy = false;

    function tick() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          section.innerHTML = html;
          section.setAttribute("data-refreshed", new Date().toISOString());
          if (state) { state.textContent = " (updated " + new Date().toLocaleTimeString() + ")"; }
        })
        .catch(function (error) {
          if (state) { state.textContent = " (update failed: " + error.message + "; retrying)"; }
        })
        .then(function () { busy = false; });
    }

    window.setInterval(tick, seconds * 1000);
  }

  function start() {
    document.querySelectorAll("[data-refresh-url]").forEach(refresher);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
