"""On-site ratings into the supervision database, and the rating alarms: low_satisfaction when a
score below 60 is given, rectification_overdue at 00:00 after add_working(date(rated), 15) unless an
officer recorded a follow-up (整改) — on-site and SMS ratings alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app.base import exchange as x
from app.base.calendars import CalendarBook
from app.base.tables import alarm_actions, alarms, audit_log, quality_log, ratings
from ingest.ratings import FollowUpRefused, follow_up, judge_due, take_ratings
from ingest.store import JUDGE_NOW
from rules.ratings import Refused
from rules.ratings import check_onsite_row as check_row

from ..ingest.exchange_builder import Exchange
from .conftest import CST, add_case, local

CALENDARS = CalendarBook()
RATED = local("2026-11-27 10:00")  # a Friday
DUE = local("2026-12-19 00:00")  # add_working(2026-11-27, 15) = 2026-12-18; fires at 00:00 after it


@pytest.fixture
def exchange(tmp_path) -> Exchange:
    return Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")


def rate(exchange: Exchange, score, rated_at=RATED, case_no="C1", window_id="W-A01", staff_id="S-001") -> None:
    with exchange.engine.begin() as conn:
        conn.execute(
            insert(x.onsite_ratings).values(
                case_no=case_no, window_id=window_id, staff_id=staff_id, score=score, rated_at=rated_at
            )
        )


def take(exchange, db, now):
    return take_ratings(exchange.engine, db, CALENDARS, CST, now, limit=3)


def alarm_rows(db) -> list[dict]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(select(alarms).order_by(alarms.c.id)).mappings()]


def rating_rows(db) -> list[dict]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(select(ratings).order_by(ratings.c.id)).mappings()]


# --- rows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row,reason",
    [
        ((1, "C1", "W1", "S1", None, "2026-11-27T10:00:00+08:00"), "score is NULL"),
        ((2, "C1", "W1", "S1", "good", "2026-11-27T10:00:00+08:00"), "score 'good' is not a whole number"),
        ((3, "C1", "W1", "S1", 85.5, "2026-11-27T10:00:00+08:00"), "score 85.5 is not a whole number"),
        ((4, "C1", "W1", "S1", True, "2026-11-27T10:00:00+08:00"), "score True is not a whole number"),
        ((5, "C1", "W1", "S1", 120, "2026-11-27T10:00:00+08:00"), "score 120 is outside 0–100"),
        ((6, "C1", "W1", "S1", -1, "2026-11-27T10:00:00+08:00"), "score -1 is outside 0–100"),
        ((7, "C1", "W1", "S1", 80, None), "rated_at is NULL"),
        ((8, "C1", "W1", "S1", 80, "last tuesday"), "rated_at 'last tuesday' is not an ISO-8601 timestamp"),
        ((9, "C1", "W1", "S1", 80, "2026-11-27"), "rated_at '2026-11-27' is not an ISO-8601 timestamp"),
        (
            (10, None, None, "S1", 80, "2026-11-27T10:00:00+08:00"),
            "the rating names neither a case nor a window, so nobody can be held to it",
        ),
        ((11, 42, "W1", "S1", 80, "2026-11-27T10:00:00+08:00"), "case_no 42 is not text"),
        (
            (12, "C1", "W\x001", "S1", 80, "2026-11-27T10:00:00+08:00"),
            "window_id 'W\\x001' holds a NUL character, which cannot be stored",
        ),  # a SQLite row; PostgreSQL cannot hold it
    ],
)
def test_unusable_rows_are_refused_with_a_reason(row, reason):
    assert check_row(*row, tz=CST) == Refused(row[0], reason)


@pytest.mark.parametrize("score", [100, 80, 60, 0, 73])  # four-button devices, and any 0–100 device
def test_usable_rows(score):
    row = check_row(1, "C1", " W1 ", None, score, "2026-11-27T10:00:00", tz=CST)
    assert (row.score, row.window_id, row.staff_id, row.rated_at) == (score, "W1", None, RATED)


# --- taking in ----------------------------------------------------------------------------------


def test_onsite_rows_are_taken_in_once_with_their_place(exchange, db):
    add_case(db, "C1", local("2026-11-27 09:00"))
    for score in (100, 80, 60, 0):
        rate(exchange, score)
    rate(exchange, 55, case_no=None)  # a rating with no case still belongs to its window
    rate(exchange, 200)
    rate(exchange, None)
    take(exchange, db, RATED + timedelta(minutes=1))
    take(exchange, db, RATED + timedelta(minutes=2))  # again: nothing new
    rows = rating_rows(db)
    assert [r["score"] for r in rows] == [100, 80, 60, 0, 55]
    assert {(r["source"], r["center_id"], r["dept_id"], r["window_id"]) for r in rows} == {
        ("onsite", "GX-450100", "D-SCJG", "W-A01")
    }
    assert [r["source_id"] for r in rows] == ["1", "2", "3", "4", "5"]
    with db.connect() as conn:
        logged = conn.execute(
            select(quality_log.c.source, quality_log.c.event_id, quality_log.c.reason).order_by(quality_log.c.event_id)
        ).all()
    assert logged == [("onsite_ratings", 6, "score 200 is outside 0–100"), ("onsite_ratings", 7, "score is NULL")]


def test_a_window_without_a_department_takes_the_case_department(exchange, db):
    exchange.raw(
        "INSERT INTO windows (window_id, center_id, dept_id, label) VALUES ('W-HALL', 'GX-450100', NULL, '综合窗口')"
    )
    add_case(db, "C1", local("2026-11-27 09:00"))
    rate(exchange, 90, window_id="W-HALL")
    take(exchange, db, RATED)
    (row,) = rating_rows(db)
    assert (row["center_id"], row["dept_id"], row["window_id"]) == ("GX-450100", "D-SCJG", "W-HALL")


def test_place_comes_from_the_case_when_the_window_is_unknown(exchange, db):
    add_case(
        db, "C9", local("2026-11-27 09:00"), center_id="GX-450102", dept_id="D-GA", window_id="W-X", staff_id="S-X"
    )
    rate(exchange, 90, case_no="C9", window_id=None, staff_id=None)
    take(exchange, db, RATED)
    (row,) = rating_rows(db)
    assert (row["center_id"], row["dept_id"], row["window_id"], row["staff_id"]) == ("GX-450102", "D-GA", "W-X", "S-X")


# --- alarms -------------------------------------------------------------------------------------


def test_a_low_rating_warns_at_once_and_goes_red_after_fifteen_working_days(exchange, db):
    rate(exchange, 0)
    rate(exchange, 60)  # 60 is not below 60
    take(exchange, db, RATED + timedelta(minutes=1))
    (warning,) = alarm_rows(db)
    assert (warning["kind"], warning["level"], warning["state"]) == ("low_satisfaction", "warning", "open")
    assert warning["fired_at"] == RATED and warning["subject"] == "onsite:1" and warning["case_no"] == "C1"
    assert rating_rows(db)[0]["next_change"] == DUE
    assert take(exchange, db, DUE - timedelta(microseconds=1)) == []  # 23:59:59.999999 of the due day: in time
    changes = take(exchange, db, DUE)
    assert [(c.kind, c.action) for c in changes] == [("rectification_overdue", "fired")]
    overdue = alarm_rows(db)[1]
    assert (overdue["level"], overdue["fired_at"], overdue["due"].isoformat()) == ("alarm", DUE, "2026-12-18")
    assert rating_rows(db)[0]["next_change"] is None  # nothing more happens by itself
    assert take(exchange, db, DUE + timedelta(days=30)) == []


def test_a_follow_up_in_time_resolves_the_warning_and_no_alarm_fires(exchange, db):
    rate(exchange, 20)
    take(exchange, db, RATED)
    followed = local("2026-12-18 23:59")
    row = follow_up(db, 1, "王科长", "已约谈窗口人员并回访申请人", followed)
    assert row["follow_up_by"] == "王科长" and row["next_change"] == JUDGE_NOW
    changes = take(exchange, db, followed + timedelta(minutes=1))
    assert [(c.kind, c.action) for c in changes] == [("low_satisfaction", "resolved")]
    assert take(exchange, db, DUE + timedelta(days=1)) == []
    (warning,) = alarm_rows(db)
    assert (warning["state"], warning["closed_reason"], warning["closed_at"]) == ("closed", "resolved", followed)
    with db.connect() as conn:
        actions = conn.execute(
            select(alarm_actions.c.action, alarm_actions.c.actor, alarm_actions.c.note).order_by(alarm_actions.c.id)
        ).all()
        audit = conn.execute(select(audit_log)).mappings().one()
    assert actions == [
        ("fired", "system", ""),
        ("follow_up", "王科长", "已约谈窗口人员并回访申请人"),
        ("resolved", "system", ""),
    ]
    assert (audit["actor"], audit["action"], audit["target"]) == ("王科长", "rating_follow_up", "rating:1")
    assert audit["detail"]["note"] == "已约谈窗口人员并回访申请人"


def test_a_late_follow_up_resolves_the_red_alarm_too(exchange, db):
    rate(exchange, 20)
    take(exchange, db, DUE)
    assert [a["kind"] for a in alarm_rows(db)] == ["low_satisfaction", "rectification_overdue"]
    follow_up(db, 1, "王科长", "补做整改", DUE + timedelta(days=2))
    take(exchange, db, DUE + timedelta(days=2, minutes=1))
    assert [(a["state"], a["closed_reason"]) for a in alarm_rows(db)] == [("closed", "resolved")] * 2


def test_a_rating_seen_only_after_its_deadline_still_fires_at_event_time(exchange, db):
    rate(exchange, 40)
    take(exchange, db, DUE + timedelta(days=3))  # the ingest was down for weeks
    assert [(a["kind"], a["fired_at"]) for a in alarm_rows(db)] == [
        ("low_satisfaction", RATED),
        ("rectification_overdue", DUE),
    ]


def test_a_rating_after_now_waits_for_its_instant(exchange, db):
    rate(exchange, 10)
    take(exchange, db, RATED - timedelta(hours=1))  # a replay of an earlier instant
    assert alarm_rows(db) == [] and rating_rows(db)[0]["next_change"] == RATED
    assert [c.kind for c in take(exchange, db, RATED)] == ["low_satisfaction"]


def test_sms_ratings_are_judged_the_same_way(exchange, db):
    with db.begin() as conn:
        conn.execute(
            insert(ratings).values(
                source="sms",
                source_id="C7",
                case_no="C7",
                center_id="GX-450100",
                score=35,
                rated_at=RATED,
                next_change=JUDGE_NOW,
            )
        )
    judge_due(db, CALENDARS, CST, DUE)
    assert [(a["kind"], a["subject"], a["case_no"]) for a in alarm_rows(db)] == [
        ("low_satisfaction", "sms:1", "C7"),
        ("rectification_overdue", "sms:1", "C7"),
    ]


@pytest.mark.parametrize(
    "rating_id,by,note,message",
    [
        (1, "", "note", "officer's name"),
        (1, "王科长", " ", "note saying what was done"),
        (99, "王科长", "note", "no rating with id 99"),
        (2, "王科长", "note", "scored 85"),
    ],
)
def test_follow_up_refusals(exchange, db, rating_id, by, note, message):
    rate(exchange, 20)
    rate(exchange, 85)
    take(exchange, db, RATED)
    with pytest.raises(FollowUpRefused, match=message):
        follow_up(db, rating_id, by, note, RATED + timedelta(hours=1))


def test_a_rating_is_followed_up_once(exchange, db):
    rate(exchange, 20)
    take(exchange, db, RATED)
    follow_up(db, 1, "王科长", "已整改", RATED + timedelta(hours=1))
    with pytest.raises(FollowUpRefused, match="already followed up by 王科长"):
        follow_up(db, 1, "李科员", "再整改", RATED + timedelta(hours=2))
