// Customer portal, progressive enhancement only (every page works without it):
// 1. registers the service worker (offline page, installable app);
// 2. "Copy" buttons copy an address;
// 3. <time data-expires> counts down to a quote's expiry.
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(function () {});
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = document.getElementById(button.getAttribute("data-copy")).textContent.trim();
        navigator.clipboard.writeText(text).then(function () {
          button.textContent = button.getAttribute("data-copied");
        });
      });
    });
    var expiry = document.querySelector("time[data-expires]");
    if (expiry) {
      var tick = function () {
        var s = Math.max(0, Math.round((Date.parse(expiry.getAttribute("datetime")) - Date.now()) / 1000));
        expiry.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
      };
      tick(); setInterval(tick, 1000);
    }
  });
})();
