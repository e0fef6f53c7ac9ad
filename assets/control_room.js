/* Control room in the browser: row selection, and the sound and flash of a new red alarm. */
(function () {
  var audio = null;
  window.superviseAlerts = 0; // counted for tests and for the wall's own watchdogs

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      [0, 0.35].forEach(function (offset) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square"; osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, audio.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + offset + 0.3);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + offset); osc.stop(audio.currentTime + offset + 0.3);
      });
    } catch (e) { /* no audio device: the flash still shows */ }
  }

  window.superviseAlert = function (newRed, sound) {
    if (!newRed || !newRed.ids || !newRed.ids.length) { return window.dash_clientside.no_update; }
    window.superviseAlerts += 1;
    window.superviseLastAlertAt = Date.now();
    var boardView = document.getElementById("kiosk-view-board");
    if (boardView && !boardView.classList.contains("active")) {
      document.querySelectorAll(".kiosk-view").forEach(function (v) { v.classList.remove("active"); });
      boardView.classList.add("active");
    }
    if (sound && sound.indexOf("on") >= 0) { beep(); }
    var board = document.getElementById("control-room-board");
    if (board) {
      board.classList.remove("flash"); void board.offsetWidth; board.classList.add("flash");
      setTimeout(function () { board.classList.remove("flash"); }, 2200);
    }
    return newRed.n;
  };

  // One listener for every row, present and future: rows are patched in and out.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest(".control-room-row[data-alarm]");
    if (!row || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    document.querySelectorAll(".control-room-row.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
    window.dash_clientside.set_props("control-room-selected", { data: parseInt(row.dataset.alarm, 10) });
  });
})();
