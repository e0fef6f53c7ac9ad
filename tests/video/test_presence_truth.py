"""The demo scenes' ground truth of presence: when the staff member leaves the seat and comes back."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from video.demo_cameras import Scene, TruthLog, read_truth, scene_of

DAY = 1_796_256_000.0  # 2026-12-03 00:00 UTC, a whole day from here


@pytest.mark.parametrize("number", [1, 2, 5, 8])
def test_absences_are_exactly_the_seconds_the_seat_shows_empty(number):
    scene = Scene(number)
    spans = scene.absences(DAY, DAY + 86_400)
    assert all(a < b for a, b in spans) and all(b < c for (_, b), (c, _) in zip(spans, spans[1:]))
    for second in range(0, 86_400, 7):
        t = DAY + second + 0.5
        away = any(left <= t < back for left, back in spans)
        assert away == (not scene.staff_present(t)), t


def test_every_scene_has_long_absences_some_past_fifteen_minutes_some_not():
    for number in range(1, 9):
        lengths = [back - left for left, back in Scene(number).absences(DAY, DAY + 86_400)]
        assert any(length > 900 for length in lengths) and any(300 < length < 900 for length in lengths), number
        assert sum(length > 60 for length in lengths) >= 18, number  # about once an hour


def test_the_truth_log_writes_the_first_picture_and_each_change_only(tmp_path):
    scene = Scene(3)
    log = TruthLog(str(tmp_path), scene)
    left, back = scene.absences(DAY, DAY + 3600)[0]
    for t in (left - 2, left - 1, left + 0.1, left + 1, back + 0.1, back + 1):
        log.saw(t)
    lines = [json.loads(line) for line in (tmp_path / "scene3.jsonl").read_text().splitlines()]
    assert [line["present"] for line in lines] == [True, False, True]
    assert read_truth(tmp_path, 3) == [(datetime.fromisoformat(line["at"]), line["present"]) for line in lines]
    assert read_truth(tmp_path, 4) == []


def test_cameras_beyond_the_scenes_share_them():
    assert [scene_of(n, 3) for n in (1, 2, 3, 4, 7)] == [1, 2, 3, 1, 1]
