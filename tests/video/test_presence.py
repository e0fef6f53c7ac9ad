"""Seat presence from keyframes: motion and the empty-seat model, hysteresis, a covered lens, the stills of a change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from video.presence import EMPTY, PRESENT, UNKNOWN, SeatDetector, SeatRegion, SeatWatch, Tuning

H, W = 180, 320
TUNING = Tuning(learn_after=4, to_empty=3, to_present=2)


def room(person_at: float | None = None, *, light: int = 0) -> np.ndarray:
    """A window seen from the counter: wall, a dark chair, maybe a person (x centre) in it."""
    picture = np.full((H, W, 3), 220, np.uint8)
    picture[110:, :] = (60, 100, 140)  # the counter
    cv2.rectangle(picture, (140, 65), (178, 108), (70, 64, 64), -1)  # the chair
    cv2.putText(picture, "A12", (130, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    if person_at is not None:
        x = int(person_at)
        cv2.rectangle(picture, (x - 22, 90), (x + 22, 135), (115, 64, 41), -1)  # shirt
        cv2.circle(picture, (x, 80), 12, (163, 199, 237), -1)  # face
    return cv2.add(picture, np.full_like(picture, light)) if light else picture


def test_an_empty_chair_is_empty_and_a_person_is_present_even_sitting_still():
    seat = SeatDetector(tuning=TUNING)
    assert seat.look(room()) == UNKNOWN  # nothing to compare the first picture with
    for _ in range(5):
        assert seat.look(room()) == EMPTY
    assert seat.empty_seat is not None  # unchanged for learn_after keyframes: the model of the empty seat
    assert seat.look(room(160)) == PRESENT  # sat down: motion
    assert seat.look(room(162)) == PRESENT  # moving
    assert seat.look(room(162)) == PRESENT  # still, but not the empty chair
    assert seat.look(room(162)) == PRESENT


def test_a_light_switched_on_is_not_a_person():
    seat = SeatDetector(tuning=TUNING)
    for _ in range(6):
        seat.look(room())
    assert seat.look(room(light=25)) == EMPTY


def test_a_covered_lens_says_nothing():
    seat = SeatDetector(tuning=TUNING)
    assert seat.look(np.full((H, W, 3), 12, np.uint8)) == UNKNOWN


def feed(watch: SeatWatch, pictures, start: float = 1000.0, every: float = 5.0) -> list[str]:
    return [watch.picture(p, start + i * every) for i, p in enumerate(pictures)]


def test_hysteresis_dates_each_change_by_its_first_keyframe_with_stills_before_and_after():
    watch = SeatWatch("K1", SeatDetector(tuning=TUNING))
    sway = [room(158 + (i % 3) * 3) for i in range(4)]
    feed(watch, [room()] * 6 + sway + [room()] * 5)
    changes = watch.take_changes()
    assert [c.state for c in changes] == [EMPTY, PRESENT, EMPTY]
    left = changes[-1]
    assert left.since.timestamp() == 1000.0 + 10 * 5  # the first keyframe without the person
    before = cv2.imdecode(np.frombuffer(left.before, np.uint8), cv2.IMREAD_COLOR)
    after = cv2.imdecode(np.frombuffer(left.after, np.uint8), cv2.IMREAD_COLOR)
    assert before.shape == after.shape == (H, W, 3) and np.abs(before.astype(int) - after.astype(int)).max() > 50
    assert watch.take_changes() == []


def test_bending_down_for_a_keyframe_or_a_passer_by_does_not_flip_it():
    watch = SeatWatch("K1", SeatDetector(tuning=TUNING))
    present = [room(158 + (i % 3) * 3) for i in range(8)]
    feed(watch, [room()] * 6 + present[:4] + [room(), room()] + present[4:])  # two empty keyframes: bending down
    assert [c.state for c in watch.take_changes()] == [EMPTY, PRESENT]
    feed(watch, [room()] * 6 + [room(150)] + [room()] * 4)  # one keyframe of someone passing
    assert [c.state for c in watch.take_changes()] == [EMPTY]


def test_a_lost_view_is_a_change_to_unknown_once():
    watch = SeatWatch("K1", SeatDetector(tuning=TUNING))
    feed(watch, [room()] * 6)
    watch.take_changes()
    watch.lost(2000.0, "offline")
    watch.lost(2001.0, "offline")
    (change,) = watch.take_changes()
    assert (change.state, change.reason, change.since.timestamp()) == (UNKNOWN, "offline", 2000.0)


@pytest.mark.parametrize("region", [(0.9, 0.1, 0.2, 0.2), (0.1, 0.1, 0.0, 0.2), (-0.1, 0, 0.5, 0.5)])
def test_a_seat_region_outside_the_picture_is_refused(region):
    with pytest.raises(ValueError, match="seat region"):
        SeatRegion(*region)
