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

  // Text only ever goes in as textContent: upstream names come capped and neutralised (app/display.py), never as HTML.
  function span(cls, text, title) {
    var el = document.createElement("span");
    el.className = "cell " + cls;
    if (text) { el.textContent = text; }
    if (title) { el.title = title; }
    return el;
  }

  function badge(cls, text) {
    var el = document.createElement("span");
    el.className = "badge " + cls;
    el.textContent = text;
    return el;
  }

  function drawRow(view) {
    var c = view.cells, titles = view.titles || {}, row = document.createElement("div");
    row.className = "control-room-row level-" + view.level + " state-" + view.state +
      (view.escalated ? " escalated" : "") + (view.fresh ? " fresh" : "");
    row.dataset.alarm = String(view.id);
    row.dataset.level = view.level;
    row.id = "control-room-row-" + view.id;
    row.appendChild(span("cell-level", c.level));
    row.appendChild(span("cell-kind", c.kind, titles.kind));
    var caseCell = span("cell-case", c.case ? "" : c.camera, c.case ? titles.case : titles.camera);
    if (c.case) {
      var link = document.createElement("a");
      link.href = view.case_href;  // built by the server (app/links.py): the number whole, encoded
      link.className = "case-no";
      link.textContent = c.case;
      caseCell.appendChild(link);
    }
    row.appendChild(caseCell);
    row.appendChild(span("cell-place", c.place, titles.place));
    row.appendChild(span("cell-fired", c.fired));
    row.appendChild(span("cell-due", c.due));
    var state = span("cell-state", c.state);
    if (c.urged) { state.appendChild(badge("badge-urged", c.urged)); }
    if (c.escalated) { state.appendChild(badge("badge-escalated", c.escalated)); }
    row.appendChild(state);
    return row;
  }

  // Apply the server's row operations: deletions (highest index first), then insertions (lowest first).
  // Rows not named stay untouched in the page, so nothing else redraws or flickers.
  // They arrive as JSON text ({n, json}): the server shares one answer among the sessions that ask alike.
  window.superviseApplyBoard = function (message) {
    var grid = document.getElementById("control-room-grid");
    if (!message || !message.json || !grid) { return window.dash_clientside.no_update; }
    var ops = JSON.parse(message.json);
    var selected = grid.querySelector(".control-room-row.selected");
    var selectedId = selected ? selected.dataset.alarm : null;
    if (ops.reset) { while (grid.firstChild) { grid.removeChild(grid.firstChild); } }
    ops.deletes.forEach(function (index) {
      var row = grid.children[index];
      if (row) { grid.removeChild(row); }
    });
    ops.inserts.forEach(function (pair) {
      var row = drawRow(pair[1]);
      if (String(pair[1].id) === selectedId) { row.classList.add("selected"); }
      grid.insertBefore(row, grid.children[pair[0]] || null);
    });
    return message.n;
  };

  // Case links inside the board navigate like dcc.Link: no page reload.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#control-room-grid a[href^='/case']");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
  });

  // One listener for every row, present and future: rows are patched in and out.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest(".control-room-row[data-alarm]");
    if (!row || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    document.querySelectorAll(".control-room-row.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
    window.dash_clientside.set_props("control-room-selected", { data: parseInt(row.dataset.alarm, 10) });
  });
})();
