// Kibeti customer portal service worker. It caches the shell only (styles, scripts, icons, the
// offline page); pages are always fetched from the network and never cached, because they show
// balances and move money. With no network, a page request gets the offline page.
"use strict";
var SHELL = "kibeti-app-shell-v1";
var FILES = [
  "/app/offline",
  "/static/web/kibeti.css",
  "/static/web/kibeti.js",
  "/static/web/kibeti-app.js",
  "/static/web/kibeti-app.css",
  "/static/web/kibeti-app-192.png",
  "/static/web/kibeti-app-512.png"
];
self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) { return cache.addAll(FILES); }));
  self.skipWaiting();
});
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () { return caches.match("/app/offline"); }));
    return;
  }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && FILES.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  }
});
