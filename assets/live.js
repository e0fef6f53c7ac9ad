/* Live window video: the camera's own H.264, passed through as fragmented MP4
   (no decoding or re-encoding on the server) and played with Media Source
   Extensions. The latest still shows at once; the video replaces it when the
   first frame arrives. Playback is held near the live edge (<= 1 s behind).
   An H.265 camera plays as it is where MSE says it plays HEVC; elsewhere the
   server transcodes it to H.264 (one transcode per camera, capped per server).
   Where MSE or the codec is missing, where the transcodes are all taken (a note
   says so) or where the server has not answered within a second, MJPEG stills
   are the fallback. Video only: the live view is muted, so an audio track never
   gets in its way.

   Markup: <div class="live-player" data-camera="ID" data-snapshot="URL">
             <img class="live-still"> </div>                                   */
(function () {
  var MAX_BEHIND = 1.0;   // seconds behind the newest frame before we jump ahead
  var KEEP = 10;          // seconds of played video kept in the buffer
  var ANSWER_WITHIN = 1000; // ms for the server's answer (it names the codec) before MJPEG instead
  var HEVC = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
  var NOTES = { "transcode-cap": "转码名额已满，仅显示关键帧画面（transcoding at capacity: stills only）" };

  function hex(b) { return ("0" + b.toString(16)).slice(-2); }
  function isBox(bytes, i, name) {
    for (var k = 0; k < 4; k++) { if (bytes[i + k] !== name.charCodeAt(k)) { return false; } }
    return true;
  }

  function codecOf(bytes) {
    // avc1.PPCCLL from the avcC box of the init segment; hvc1/hev1.P.C.TL.B from hvcC (ISO/IEC 14496-15 E.3).
    for (var i = 4; i + 24 < bytes.length; i++) {
      if (isBox(bytes, i, "avcC")) {
        return "avc1." + hex(bytes[i + 5]) + hex(bytes[i + 6]) + hex(bytes[i + 7]);
      }
      if (isBox(bytes, i, "hvcC")) {
        var b = bytes.subarray(i + 5), space = ["", "A", "B", "C"][b[0] >> 6];
        var compat = ((b[1] << 24) | (b[2] << 16) | (b[3] << 8) | b[4]) >>> 0, reversed = 0;
        for (var bit = 0; bit < 32; bit++) { reversed = ((reversed << 1) | ((compat >>> bit) & 1)) >>> 0; }
        var constraints = Array.prototype.slice.call(b, 5, 11);
        while (constraints.length && !constraints[constraints.length - 1]) { constraints.pop(); }
        var entry = "hvc1";
        for (var j = 4; j < i; j++) { if (isBox(bytes, j, "hev1")) { entry = "hev1"; break; } }
        return [entry, space + (b[0] & 0x1f), reversed.toString(16), ((b[0] & 0x20) ? "H" : "L") + b[11]]
          .concat(constraints.map(function (c) { return c.toString(16); })).join(".");
      }
    }
    return null;
  }

  function withoutFree(bytes) {
    // The server answers at once with an empty 'free' box (headers go out with the first bytes).
    while (bytes.length >= 8 && isBox(bytes, 4, "free")) {
      var size = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
      if (size < 8 || size > bytes.length) { break; }
      bytes = bytes.subarray(size);
    }
    return bytes;
  }

  function concat(chunks) {
    var size = chunks.reduce(function (n, c) { return n + c.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    chunks.forEach(function (c) { out.set(c, at); at += c.length; });
    return out;
  }

  function mjpegInstead(player, camera, note) {
    if (player.dataset.mode === "mjpeg") { return; }
    var img = document.createElement("img");
    img.className = "live-video live-mjpeg";
    img.src = "/video/" + camera + "/live.mjpeg";
    player.querySelectorAll("video").forEach(function (v) { v.remove(); });
    player.appendChild(img);
    player.dataset.mode = "mjpeg";
    if (note && NOTES[note]) {
      var div = document.createElement("div");
      div.className = "live-note"; div.setAttribute("role", "status"); div.textContent = NOTES[note];
      player.appendChild(div);
      player.dataset.note = note;
    }
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

    var hevc = MediaSource.isTypeSupported(HEVC);
    function open(query) {
      var answered = false;
      var late = setTimeout(function () {
        if (!answered && !stopped) { stopped = true; controller.abort(); player.dataset.error = "no answer within 1 s"; mjpegInstead(player, camera); }
      }, ANSWER_WITHIN);
      return fetch("/video/" + camera + "/live.mp4" + query, { signal: controller.signal, credentials: "same-origin" }).then(function (response) {
        answered = true; clearTimeout(late);
        var fallback = response.headers.get("X-Live-Fallback");
        if (fallback) { stopped = true; controller.abort(); player.dataset.error = fallback; mjpegInstead(player, camera, fallback); return null; }
        if (!response.ok || !response.body) { throw new Error("HTTP " + response.status); }
        player.dataset.codec = response.headers.get("X-Live-Codec") || "";
        player.dataset.live = response.headers.get("X-Live-Mode") || "passthrough";
        if (["", "h264", "hevc"].indexOf(player.dataset.codec) < 0) { throw new Error("codec " + player.dataset.codec); }
        return response;
      });
    }

    source.addEventListener("sourceopen", function () {
      open(hevc ? "?hevc=1" : "").then(function (response) {
        if (!response) { return; }
        var reader = response.body.getReader();
        function read() {
          return reader.read().then(function (step) {
            if (step.done || stopped) { return; }
            if (!buffer) {
              head.push(step.value);
              var bytes = withoutFree(concat(head)), codec = codecOf(bytes);
              if (!codec) { if (bytes.length > 1 << 20) { throw new Error("no avcC"); } return read(); }
              var mime = 'video/mp4; codecs="' + codec + '"';
              if (!MediaSource.isTypeSupported(mime)) {
                if (codec.indexOf("avc1") !== 0 && player.dataset.live !== "transcode") {
                  // An H.265 camera not yet connected when asked: ask again for its H.264 transcode.
                  reader.cancel(); head = [];
                  return open("?transcode=1").then(function (again) { if (again) { reader = again.body.getReader(); return read(); } });
                }
                throw new Error("unsupported " + mime);
              }
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
