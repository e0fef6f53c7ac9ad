"""`supervise ingest --once` on a terminal: progress bars for a long backlog."""

from __future__ import annotations

from ingest.runner import _ProgressBars


def test_bars_show_each_phase_on_a_terminal_and_nothing_elsewhere(capsys):
    with _ProgressBars(enabled=True) as bars:
        for done in (0, 50_000, 120_000):
            bars.show("take-in", done, 120_000)
        bars.show("judge", 30_000, 20_000)  # more judged than first counted: the total follows
    shown = capsys.readouterr().err
    assert "take in: 100%" in shown and "120k/120k" in shown
    assert "judge: 100%" in shown and "30.0k/30.0k" in shown

    with _ProgressBars(enabled=False) as bars:
        bars.show("take-in", 5, 10)
    assert capsys.readouterr().err == ""
