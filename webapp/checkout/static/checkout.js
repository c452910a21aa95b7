// The checkout page works without this file (every panel shows, the page refreshes every 30 s).
// With it: network tabs, a ticking countdown, copy buttons, and a status poll that reloads the
// page when the invoice changes. ES5 only: old Android browsers run it.
(function () {
  "use strict";
  var d = document;
  d.documentElement.className += " js";
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function show(key) {
    each(d.querySelectorAll(".panel"), function (p) { p.classList.toggle("active", p.id === key); });
    each(d.querySelectorAll("[data-tab]"), function (a) {
      var on = a.getAttribute("data-tab") === key;
      a.classList.toggle("active", on);
      a.setAttribute("aria-current", on ? "true" : "false");
    });
  }

  d.addEventListener("DOMContentLoaded", function () {
    var tabs = d.querySelectorAll("[data-tab]");
    each(tabs, function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        show(a.getAttribute("data-tab"));
        if (window.history && history.replaceState) { history.replaceState(null, "", "#" + a.getAttribute("data-tab")); }
      });
    });
    var wanted = location.hash ? location.hash.slice(1) : "";
    if (tabs.length) { show(wanted && d.getElementById(wanted) ? wanted : tabs[0].getAttribute("data-tab")); }

    if (navigator.clipboard) {
      each(d.querySelectorAll("button.copy"), function (b) {
        b.hidden = false;
        b.addEventListener("click", function () {
          var text = d.getElementById(b.getAttribute("data-copy")).textContent.replace(/\s/g, "");
          navigator.clipboard.writeText(text).then(function () { b.textContent = b.getAttribute("data-done"); });
        });
      });
    }

    var url = d.body.getAttribute("data-status-url"), state = d.body.getAttribute("data-state");
    function check() {
      if (!url || !window.fetch) { return; }
      fetch(url, { cache: "no-store", credentials: "omit" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { if (j && j.state !== state) { location.reload(); } })
        .catch(function () {});
    }
    setInterval(check, 5000);

    var clock = d.getElementById("countdown");
    if (clock) {
      // counts from the server's seconds, not the phone's own clock (often wrong)
      var end = Date.now() + 1000 * parseInt(clock.getAttribute("data-seconds"), 10);
      var tick = function () {
        var s = Math.max(0, Math.round((end - Date.now()) / 1000));
        if (s <= 0) { clock.textContent = clock.getAttribute("data-expired"); check(); return; }
        var m = Math.floor(s / 60), h = Math.floor(m / 60);
        clock.textContent = (h ? h + ":" + pad(m % 60) : pad(m)) + ":" + pad(s % 60);
        setTimeout(tick, 1000);
      };
      tick();
    }
  });
})();
