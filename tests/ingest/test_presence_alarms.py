"""空岗 alarms: from the video workers' seat-presence stream, through rules.presence, to alarms with stills."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import redis as redis_lib
from sqlalchemy import insert, select

from app.base import seat
from app.base.calendars import CalendarBook
from app.base.database import open_database
from app.base.settings import Settings
from app.base.tables import evidence, seat_absences, window_closures
from app.queries.presence import unattended
from ingest.camera_alarms import camera_places
from ingest.presence_alarms import POSITION_KEY, take_presence
from layouts import wall

from .exchange_builder import Exchange

pytestmark = pytest.mark.slow
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Shanghai
ZONE = Settings().zone


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def world(tmp_path, redis_url):
    exchange = Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")
    db = open_database(Settings(var_dir=tmp_path))
    redis = redis_lib.Redis.from_url(redis_url)
    redis.delete(seat.STREAM, POSITION_KEY)
    places = camera_places(exchange.engine)
    book = CalendarBook()
    take = lambda at: take_presence(redis, db, book, ZONE, places, at)
    return redis, db, take


def say(redis, state: str, at: datetime, camera: str = "C-A01", **kw) -> None:
    seat.append(redis, seat.SeatEvent(camera_id=camera, window_id="W-A01", state=state, since=at, **kw))


def test_an_empty_seat_fires_at_fifteen_minutes_with_its_stills_and_resolves_when_someone_sits(world):
    redis, db, take = world
    say(redis, "empty", minutes(0), before="evidence/seat/C-A01/b.jpg", after="evidence/seat/C-A01/a.jpg")
    assert take(minutes(14)) == []
    [fired] = take(minutes(15))
    assert (fired.kind, fired.action, fired.level, fired.window_id, fired.camera_id) == (
        "window_unattended",
        "fired",
        "warning",
        "W-A01",
        "C-A01",
    )
    assert fired.fired_at == minutes(15) and fired.center_id == "GX-450100"
    with db.connect() as conn:
        kept = conn.execute(select(evidence)).mappings().one()
    assert (kept["alarm_id"], kept["path"], kept["frames"]) == (
        fired.alarm_id,
        "evidence/seat/C-A01/a.jpg",
        ["evidence/seat/C-A01/b.jpg"],
    )
    assert take(minutes(16)) == []  # nothing new: nothing changes
    assert unattended(db, ["C-A01", "C-A02"]) == {"C-A01": "window_unattended"}  # the wall's badge
    say(redis, "present", minutes(20))
    [resolved] = take(minutes(21))
    assert (resolved.alarm_id, resolved.action, resolved.state) == (fired.alarm_id, "resolved", "closed")
    with db.connect() as conn:
        assert conn.execute(select(seat_absences.c.judged)).scalar_one() is True
    assert unattended(db, ["C-A01"]) == {}
    redis.delete(POSITION_KEY)  # read again from the start: nothing repeats
    assert take(minutes(22)) == []


def test_the_red_one_follows_at_thirty_minutes_and_the_yellow_gives_way(world):
    redis, db, take = world
    say(redis, "empty", minutes(0))
    take(minutes(15))
    changes = take(minutes(31))
    assert [(c.kind, c.action) for c in changes] == [
        ("window_unattended", "resolved"),
        ("window_unattended_long", "fired"),
    ]
    assert changes[1].level == "alarm" and changes[1].fired_at == minutes(30)
    assert unattended(db, ["C-A01"]) == {"C-A01": "window_unattended_long"}
    assert wall.badge("window_unattended_long", "zh").children == "窗口空岗超时" and wall.badge(None, "zh") is None


def test_a_view_lost_during_the_absence_is_no_kongang(world):
    redis, _, take = world
    say(redis, "empty", minutes(0))
    say(redis, "unknown", minutes(10), reason="offline")
    assert take(minutes(40)) == []


def test_a_window_closed_for_the_day_raises_nothing(world):
    redis, db, take = world
    with db.begin() as conn:
        conn.execute(
            insert(window_closures).values(
                window_id="W-A01", day=date(2026, 12, 3), closed_by="officer", note="培训", at=T0
            )
        )
    say(redis, "empty", minutes(0))
    assert take(minutes(60)) == []


def test_an_unreadable_message_is_skipped(world):
    redis, _, take = world
    redis.xadd(seat.STREAM, {"event": "{not json"})
    say(redis, "empty", minutes(0))
    assert [c.kind for c in take(minutes(15))] == ["window_unattended"]
