/* Live window video: the camera's own H.264, passed through as fragmented MP4
   (no decoding or re-encoding on the server) and played with Media Source
   Extensions. The latest still shows at once; the video replaces it when the
   first frame arrives. Playback is held near the live edge (<= 1 s behind).
   Where MSE or the codec is missing, MJPEG stills are the fallback.

   Markup: <div class="live-player" data-camera="ID" data-snapshot="URL">
             <img class="live-still"> </div>                                   */
(function () {
  var MAX_BEHIND = 1.0;   // seconds behind the newest frame before we jump ahead
  var KEEP = 10;          // seconds of played video kept in the buffer

  function codecOf(bytes) {
    // avc1.PPCCLL from the avcC box of the init segment.
    for (var i = 4; i + 8 < bytes.length; i++) {
      if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
        var hex = function (b) { return ("0" + b.toString(16)).slice(-2); };
        return "avc1." + hex(bytes[i + 5]) + hex(bytes[i + 6]) + hex(bytes[i + 7]);
      }
    }
    return null;
  }

  function concat(chunks) {
    var size = chunks.reduce(function (n, c) { return n + c.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    chunks.forEach(function (c) { out.set(c, at); at += c.length; });
    return out;
  }

  function mjpegInstead(player, camera) {
    var img = document.createElement("img");
    img.className = "live-video live-mjpeg";
    img.src = "/video/" + camera + "/live.mjpeg";
    player.querySelectorAll("video").forEach(function (v) { v.remove(); });
    player.appendChild(img);
    player.dataset.mode = "mjpeg";
  }

  function start(player) {
    var camera = encodeURIComponent(player.dataset.camera);
    var still = player.querySelector(".live-still");
    if (still && player.dataset.snapshot) { still.src = player.dataset.snapshot + "?t=" + Date.now(); }
    if (!window.MediaSource || !window.fetch || !window.ReadableStream) { mjpegInstead(player, camera); return; }
    var video = document.createElement("video");
    video.className = "live-video"; video.muted = true; video.autoplay = true; video.playsInline = true;
    video.style.display = "none";
    player.appendChild(video);
    var source = new MediaSource(), buffer = null, queue = [], head = [], stopped = false;
    var controller = new AbortController();
    video.src = URL.createObjectURL(source);
    player.supervisePlayer = { stop: function () { stopped = true; controller.abort(); } };

    function pump() {
      if (!buffer || buffer.updating || !queue.length) { return; }
      try { buffer.appendBuffer(queue.shift()); } catch (e) { queue = []; trim(true); }
    }
    function trim(force) {
      if (!buffer || buffer.updating || !video.buffered.length) { return; }
      var end = video.buffered.end(video.buffered.length - 1), begin = video.buffered.start(0);
      if (force || end - begin > 2 * KEEP) { try { buffer.remove(begin, Math.max(begin, end - KEEP)); } catch (e) { /* retried next tick */ } }
    }
    function chase() {
      if (!video.buffered.length) { return; }
      var end = video.buffered.end(video.buffered.length - 1);
      if (end - video.currentTime > MAX_BEHIND) { video.currentTime = Math.max(0, end - 0.2); }
      if (video.paused) { video.play().catch(function () {}); }
    }
    video.addEventListener("loadeddata", function () {
      video.style.display = ""; if (still) { still.style.display = "none"; }
      player.dataset.mode = "mse"; player.dataset.firstFrameAt = String(Date.now());
    });
    var timer = setInterval(function () {
      if (stopped || !document.body.contains(player)) { clearInterval(timer); controller.abort(); return; }
      chase(); trim(false);
    }, 250);

    source.addEventListener("sourceopen", function () {
      fetch("/video/" + camera + "/live.mp4", { signal: controller.signal, credentials: "same-origin" }).then(function (response) {
        if (!response.ok || !response.body) { throw new Error("HTTP " + response.status); }
        var reader = response.body.getReader();
        function read() {
          return reader.read().then(function (step) {
            if (step.done || stopped) { return; }
            if (!buffer) {
              head.push(step.value);
              var bytes = concat(head), codec = codecOf(bytes);
              if (!codec) { if (bytes.length > 1 << 20) { throw new Error("no avcC"); } return read(); }
              var mime = 'video/mp4; codecs="' + codec + '"';
              if (!MediaSource.isTypeSupported(mime)) { throw new Error("unsupported " + mime); }
              buffer = source.addSourceBuffer(mime);
              buffer.mode = "segments";
              buffer.addEventListener("updateend", pump);
              queue.push(bytes); head = [];
            } else {
              queue.push(step.value);
            }
            pump();
            return read();
          });
        }
        return read();
      }).catch(function (error) {
        if (!stopped) { player.dataset.error = String(error); mjpegInstead(player, camera); }
      });
    });
  }

  window.superviseLive = { start: start };

  // Players appear whenever Dash renders a page: start each once.
  setInterval(function () {
    document.querySelectorAll(".live-player[data-camera]:not([data-started])").forEach(function (player) {
      player.dataset.started = "1";
      start(player);
    });
  }, 200);
})();
