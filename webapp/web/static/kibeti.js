// Progressive enhancement only: every page works without it.
// 1. <time data-countdown> elements count down to their datetime (the STR deadline).
// 2. forms with data-confirm ask before they post.
(function () {
  "use strict";
  function left(ms, lang) {
    var neg = ms < 0; ms = Math.abs(ms);
    var d = Math.floor(ms / 86400000), h = Math.floor(ms % 86400000 / 3600000), m = Math.floor(ms % 3600000 / 60000);
    var text = (d ? d + (lang === "sw" ? " siku " : " d ") : "") + h + (lang === "sw" ? " saa " : " h ") + m + (lang === "sw" ? " dk" : " min");
    return neg ? (lang === "sw" ? "umepita kwa " : "overdue by ") + text : text;
  }
  function tick() {
    var lang = document.documentElement.lang;
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("datetime")) - Date.now();
      el.textContent = left(ms, lang);
      el.classList.toggle("bad", ms < 0);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 30000);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
