/* Video wall in the browser: refresh every tile's still with short requests,
   and play live only in the focused tile (one long-lived connection). */
(function () {
  var next = 0;

  function tiles() { return Array.prototype.slice.call(document.querySelectorAll(".wall-tile[data-camera]")); }

  function refreshSome() {
    if (document.hidden) { return; }
    var all = tiles().filter(function (t) { return !t.classList.contains("wall-focus") && t.offsetParent !== null; });
    if (!all.length) { return; }
    // A few tiles per tick, staggered, so 16+ tiles never open more than a few requests at once.
    var perTick = Math.max(1, Math.ceil(all.length / 4));
    for (var i = 0; i < perTick; i++) {
      var tile = all[(next + i) % all.length];
      var img = tile.querySelector("img.wall-snapshot");
      if (!img || img.dataset.loading) { continue; }
      var fresh = new Image();
      img.dataset.loading = "1";
      fresh.onload = (function (target, loader) { return function () { target.src = loader.src; delete target.dataset.loading; }; })(img, fresh);
      fresh.onerror = (function (target) { return function () { delete target.dataset.loading; target.classList.add("wall-error"); }; })(img);
      fresh.src = "/video/" + encodeURIComponent(tile.dataset.camera) + "/snapshot.jpg?t=" + Date.now();
    }
    next = (next + perTick) % all.length;
  }

  function unfocus(tile) {
    tile.classList.remove("wall-focus");
    var live = tile.querySelector(".wall-live");
    if (live) { if (live.supervisePlayer) { live.supervisePlayer.stop(); } live.remove(); }
    var img = tile.querySelector("img.wall-snapshot");
    if (img) { img.style.display = ""; }
  }

  function focus(tile) {
    tiles().forEach(function (t) { if (t !== tile) { unfocus(t); } });
    if (tile.classList.contains("wall-focus")) { unfocus(tile); return; }
    tile.classList.add("wall-focus");
    var img = tile.querySelector("img.wall-snapshot");
    // assets/live.js plays it: passthrough H.264 over MSE, MJPEG where that is missing; one connection.
    var player = document.createElement("div");
    player.className = "wall-live live-player"; player.dataset.started = "1";
    player.dataset.camera = tile.dataset.camera;
    var still = document.createElement("img");
    still.className = "live-still"; still.src = img ? img.src : "";
    player.appendChild(still);
    if (img) { img.style.display = "none"; }
    tile.insertBefore(player, tile.firstChild);
    window.superviseLive.start(player);
  }

  document.addEventListener("click", function (event) {
    var tile = event.target.closest && event.target.closest(".wall-tile[data-camera]");
    if (tile) { focus(tile); }
  });

  // Kiosk rotation: show one view at a time; jump to the board when a new red alarm arrives.
  var rotation = 0;
  window.superviseRotate = function (n, views) {
    if (!views || !views.length) { return window.dash_clientside.no_update; }
    rotation = (rotation + 1) % views.length;
    var show = views[rotation];
    if (window.superviseLastAlertAt && Date.now() - window.superviseLastAlertAt < 30000) { show = "board"; }
    ["board", "overview", "wall"].forEach(function (name) {
      var el = document.getElementById("kiosk-view-" + name);
      if (el) { el.classList.toggle("active", name === show); }
    });
    return show;
  };

  // The case page's live window: MJPEG while the camera delivers; otherwise its latest still, refreshed.
  function stillInstead(img) {
    if (img.dataset.fallback) { return; }
    img.dataset.fallback = "1";
    var refresh = function () {
      if (!document.body.contains(img)) { clearInterval(timer); return; }
      img.src = img.dataset.snapshot + "?t=" + Date.now();
    };
    var timer = setInterval(refresh, 2000);
    refresh();
  }
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img && img.classList && img.classList.contains("live-video")) { stillInstead(img); }
  }, true);
  setInterval(function () {
    document.querySelectorAll("img.live-video:not([data-fallback])").forEach(function (img) {
      img.dataset.seen = img.dataset.seen || String(Date.now());
      if (!img.naturalWidth && Date.now() - parseInt(img.dataset.seen, 10) > 4000) { stillInstead(img); }
    });
  }, 1000);

  setInterval(refreshSome, 500);
})();
