"""Satisfaction queries for the KPI page and PDF: the 满意率 cut-off, places, local-day trends
on both backends, scopes, and the follow-up list."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, update

from app.base.tables import ratings
from app.scope import Scope
from app.sms import satisfaction as sat
from rules.calendar import WorkCalendar

from .conftest import CST, local

REGION = Scope("region", "GX-450000", None)
NANNING = Scope("center", "GX-450100", frozenset({"GX-450100"}))
DEPT = Scope("department", "D-ZJ", frozenset({"GX-450100"}), "D-ZJ")

RATINGS = [
    # source, score, rated at (local), center, dept, window, staff
    ("onsite", 100, "2026-11-23 09:00", "GX-450100", "D-SCJG", "W-A01", "S-001"),
    ("onsite", 80, "2026-11-23 10:00", "GX-450100", "D-SCJG", "W-A01", "S-001"),  # 80: satisfied
    ("onsite", 79, "2026-11-24 10:00", "GX-450100", "D-SCJG", "W-A01", "S-002"),  # 79: not satisfied, not low
    ("onsite", 60, "2026-11-24 11:00", "GX-450100", "D-ZJ", "W-B01", "S-003"),  # 60 (一般): not low
    ("sms", 59, "2026-11-27 23:30", "GX-450100", "D-ZJ", "W-B01", "S-003"),  # low; 15:30 UTC, still the 27th
    ("sms", 0, "2026-11-28 00:30", "GX-450100", "D-ZJ", "W-B01", "S-003"),  # low; 16:30 UTC on the 27th
    ("onsite", 90, "2026-11-25 10:00", "GX-450102", "D-GA", "W-C01", "S-009"),  # another center
    ("onsite", 10, "2026-12-01 10:00", "GX-450100", "D-SCJG", "W-A01", "S-001"),  # after the period
]
START, END = date(2026, 11, 23), date(2026, 11, 29)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def engine(request):
    engine = request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")
    with engine.begin() as conn:
        conn.execute(
            insert(ratings),
            [
                {
                    "source": s,
                    "source_id": str(i),
                    "case_no": f"C{i}",
                    "score": score,
                    "rated_at": local(at),
                    "center_id": c,
                    "dept_id": d,
                    "window_id": w,
                    "staff_id": st,
                }
                for i, (s, score, at, c, d, w, st) in enumerate(RATINGS)
            ],
        )
    return engine


def test_totals_and_the_satisfied_cut_off(engine):
    total = sat.totals(engine, REGION, START, END, CST)
    assert (total.ratings, total.satisfied, total.low, total.onsite, total.sms) == (7, 3, 2, 5, 2)
    assert total.avg_score == pytest.approx((100 + 80 + 79 + 60 + 59 + 0 + 90) / 7)
    assert total.satisfied_rate == pytest.approx(300 / 7)
    assert sat.totals(engine, REGION, START, END, CST, source="sms").ratings == 2
    assert sat.SATISFIED_SCORE == 80  # the KPI page's cut-off, shared


def test_scopes_never_count_outside(engine):
    assert sat.totals(engine, NANNING, START, END, CST).ratings == 6
    assert sat.totals(engine, DEPT, START, END, CST).ratings == 3
    assert [p.key for p in sat.by_place(engine, DEPT, START, END, CST, "window")] == ["W-B01"]
    assert sat.totals(engine, Scope("center", "X", frozenset()), START, END, CST).ratings == 0


def test_by_place_best_first(engine):
    windows = sat.by_place(engine, REGION, START, END, CST, "window")
    assert [(p.key, p.satisfaction.ratings) for p in windows] == [("W-C01", 1), ("W-A01", 3), ("W-B01", 3)]
    staff = {p.key: p.satisfaction for p in sat.by_place(engine, REGION, START, END, CST, "staff")}
    assert staff["S-003"].low == 2 and staff["S-003"].avg_score == pytest.approx(119 / 3)


def test_trend_counts_local_days(engine):
    days = dict(sat.trend(engine, REGION, START, END, CST, period="day"))
    assert {d.isoformat(): s.ratings for d, s in days.items()} == {
        "2026-11-23": 2,
        "2026-11-24": 2,
        "2026-11-25": 1,
        "2026-11-27": 1,
        "2026-11-28": 1,
    }
    (week,) = sat.trend(engine, REGION, START, END, CST, period="week")
    assert week[0] == date(2026, 11, 23) and week[1].ratings == 7
    one_window = sat.trend(engine, REGION, START, END, CST, period="month", level="window", key="W-B01")
    assert one_window == [(date(2026, 11, 1), sat.totals(engine, DEPT, START, END, CST))]


def test_low_ratings_and_their_follow_up_state(engine):
    lows = sat.low_ratings(engine, REGION, START, END, CST, lambda center: WorkCalendar())
    # Friday and the Saturday after it have the same deadline: the start day is never counted.
    assert [(low.score, low.due) for low in lows] == [(59, date(2026, 12, 18)), (0, date(2026, 12, 18))]
    first = lows[0]
    assert first.state_at(local("2026-12-18 23:59"), CST) == "pending"
    assert first.state_at(local("2026-12-19 00:00"), CST) == "overdue"


def test_report_for_the_kpi_page(engine):
    with engine.begin() as conn:
        conn.execute(
            update(ratings)
            .where(ratings.c.score == 59)
            .values(followed_up_at=local("2026-12-01 10:00"), follow_up_by="王科长", follow_up_note="已回访")
        )
    report = sat.report(engine, NANNING, START, END, CST, local("2026-12-20 09:00"), lambda c: WorkCalendar())
    assert report.totals.ratings == 6 and report.by_source["sms"].ratings == 2
    assert set(report.rankings) == {"center", "dept", "window", "staff"}
    assert report.follow_ups == {"pending": 0, "overdue": 1, "done": 1, "done_late": 0}
    assert report.totals.as_json()["satisfied_score"] == 80
