"""The simulator plays both sides of the loop: most red alarms get an order, most orders are
answered in time, some late, some never; a few alarms are appealed and decided. The same
seed gives the same steps however often it is played, and a month can be assessed after."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import select

from app.assessment import months
from app.base.tables import alarms, appeals, supervision_orders
from app.simulate.loop import play
from ingest.orders import judge_orders
from rules.assessment import DEFAULT_RULES, parse_rules

from .conftest import COUNTY, CST, REFERENCE, RULES, add_alarm, local


def test_a_month_of_the_loop(db):
    start = local("2026-11-02 09:00")
    for i in range(120):
        add_alarm(
            db, case_no=f"C{i}", dept="D1" if i % 2 else "D2", fired=f"{start + timedelta(hours=5 * i):%Y-%m-%d %H:%M}"
        )
    day = start
    while day < local("2026-12-05 00:00"):
        play(db, REFERENCE, RULES, day, seed=7)
        judge_orders(db, RULES.calendars, CST, day, 5)
        day += timedelta(hours=6)
    play(db, REFERENCE, RULES, day, seed=7)
    assert play(db, REFERENCE, RULES, day, seed=7) == dict.fromkeys(
        ("issued", "answered", "accepted", "returned", "appealed", "decided"), 0
    )  # played again at the same instant: every step due was taken once
    with db.connect() as conn:
        states = Counter(conn.execute(select(supervision_orders.c.state)).scalars())
        kinds = Counter(conn.execute(select(alarms.c.kind)).scalars())
        decided = Counter(conn.execute(select(appeals.c.state)).scalars())
    assert states["accepted"] > 40 and states["awaiting"] > 0  # most done, some never answered
    assert kinds["order_overdue"] > 0 and kinds["not_supervised"] > 0  # late and never, unordered alarms
    assert sum(decided.values()) > 0
    scores = months.compute(db, date(2026, 11, 1), parse_rules(DEFAULT_RULES), {"D1": COUNTY, "D2": COUNTY}, CST, day)
    assert {s["unit"] for s in scores} == {"dept:D1", "dept:D2", f"center:{COUNTY}"}
    assert all(s["score"] < 100 for s in scores)
