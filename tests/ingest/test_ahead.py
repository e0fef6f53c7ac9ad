"""Judging ahead of a clock instant (ingest.ahead) stores exactly what judging at the
instant would: two supervision databases take in the same rows, one judging ahead and
one not, and must agree on every case, alarm and audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from app.base.settings import Settings
from ingest import store
from ingest.runner import build

from .exchange_builder import local

# Received Tue 2026-09-29 and never answered: the receipt clock is due Mon 10-12
# (National Day in between), so at 00:00 on 10-13 receipt_unprocessed and, the case
# now counting as accepted on receipt, promise_overdue fire with no new event.
INSTANT = local("2026-10-13 00:00")


@pytest.fixture
def pair(exchange, tmp_path):
    """An ingest that judges ahead and one that does not, on their own databases."""

    def ingest(name):
        settings = Settings(
            var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=f"sqlite:///{tmp_path / name}.db"
        )
        return build(settings, batch_size=50)

    return ingest("ahead"), ingest("plain")


def _state(ingest) -> dict:
    engine = create_engine(ingest.db.url)
    with engine.connect() as conn:
        return {
            "cases": conn.execute(text("SELECT * FROM cases ORDER BY case_no")).all(),
            "alarms": conn.execute(
                text(
                    "SELECT kind, case_no, subject, fired_at, due, state, closed_reason, "
                    "closed_at, updated_at FROM alarms ORDER BY 1, 2, 3"
                )
            ).all(),
            "actions": conn.execute(
                text(
                    "SELECT a.kind, a.case_no, x.action, x.at FROM alarm_actions x "
                    "JOIN alarms a ON a.id = x.alarm_id ORDER BY 1, 2, 3, 4"
                )
            ).all(),
        }


def _both(pair, now):
    for ingest in pair:
        ingest.load_items()
        while ingest.step(now).rows:
            pass
        ingest.fire_due(now)


def test_a_case_judged_ahead_is_stored_as_judged_at_the_instant(exchange, pair, monkeypatch):
    for n in range(3):
        exchange.event(f"A{n}", "received", "2026-09-29 10:00", item_code="ITEM-W")
    _both(pair, INSTANT - timedelta(hours=1))
    ahead, plain = pair
    assert ahead.prepare_ahead(INSTANT - timedelta(seconds=5)) == 3
    read_again = []
    reading = store.case_events
    monkeypatch.setattr(
        store, "case_events", lambda conn, case_nos: read_again.extend(case_nos) or reading(conn, case_nos)
    )
    ahead.fire_due(INSTANT + timedelta(seconds=0.3))
    monkeypatch.undo()
    assert read_again == []  # stored as judged ahead, not judged again
    assert ahead.ahead.instant is None  # used, then let go
    plain.fire_due(INSTANT + timedelta(seconds=0.3))
    state = _state(ahead)
    assert {a.kind for a in state["alarms"]} == {"receipt_unprocessed", "promise_overdue"}
    assert state == _state(plain)


def test_a_case_that_changed_after_it_was_judged_ahead_is_judged_afresh(exchange, pair):
    exchange.event("B1", "received", "2026-09-29 10:00", item_code="ITEM-W")
    exchange.event("B2", "received", "2026-09-29 10:00", item_code="ITEM-W")
    _both(pair, INSTANT - timedelta(hours=1))
    ahead, plain = pair
    ahead.load_items()
    assert ahead.prepare_ahead(INSTANT - timedelta(seconds=10)) == 2
    # B1 is answered (late, pushed now): the judgement prepared for it no longer holds.
    exchange.event("B1", "correction_notice", "2026-10-12 23:59:50", recorded="2026-10-12 23:59:55")
    _both(pair, INSTANT - timedelta(seconds=2))
    _both(pair, INSTANT + timedelta(seconds=0.3))
    state = _state(ahead)
    assert "B1" not in {a.case_no for a in state["alarms"] if a.kind == "receipt_unprocessed"}
    assert state == _state(plain)


def _typed_state(ingest) -> dict:
    """What _state holds, read through the table definitions: comparable across backends."""
    from sqlalchemy import select

    from app.base.tables import alarm_actions, alarms, cases

    with ingest.db.connect() as conn:
        return {
            "cases": [dict(r) for r in conn.execute(select(cases).order_by(cases.c.case_no)).mappings()],
            "alarms": conn.execute(
                select(
                    alarms.c.kind,
                    alarms.c.case_no,
                    alarms.c.subject,
                    alarms.c.fired_at,
                    alarms.c.due,
                    alarms.c.state,
                    alarms.c.updated_at,
                ).order_by(alarms.c.kind, alarms.c.case_no)
            ).all(),
            "actions": sorted(
                conn.execute(
                    select(alarms.c.kind, alarms.c.case_no, alarm_actions.c.action, alarm_actions.c.at).join(
                        alarms, alarms.c.id == alarm_actions.c.alarm_id
                    )
                ).all()
            ),
        }


def test_a_large_cohort_is_stored_at_the_instant_by_workers_forked_before_it(exchange, tmp_path, pg_url, monkeypatch):
    """On PostgreSQL, once every case due at the next instant is judged ahead, the workers
    that will store them are forked and connected before the instant, and only used at it."""
    from ingest import pipeline

    monkeypatch.setattr(pipeline, "AHEAD_STORE", 2)  # five cases make a cohort of three shares
    for n in range(5):
        exchange.event(f"C{n}", "received", "2026-09-29 10:00", item_code="ITEM-W")
    ahead = build(Settings(var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=pg_url), batch_size=50)
    plain = build(
        Settings(var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=f"sqlite:///{tmp_path / 'plain'}.db"),
        batch_size=50,
    )
    _both((ahead, plain), INSTANT - timedelta(hours=1))
    assert ahead.prepare_ahead(INSTANT - timedelta(seconds=5)) == 5
    assert ahead._standby is None  # forked only when a call finds nothing left to judge ahead
    # From here on nothing may be judged again: the standby's workers inherit this.
    monkeypatch.setattr(store, "case_events", lambda conn, case_nos: pytest.fail(f"judged again: {case_nos}"))
    assert ahead.prepare_ahead(INSTANT - timedelta(seconds=4)) == 0
    standby = ahead._standby
    assert standby is not None and standby.instant == INSTANT
    ahead.fire_due(INSTANT - timedelta(seconds=1))  # nothing due yet: the standby waits for its instant
    assert ahead._standby is standby
    ahead.fire_due(INSTANT + timedelta(seconds=0.3))
    assert ahead._standby is None
    monkeypatch.undo()
    plain.fire_due(INSTANT + timedelta(seconds=0.3))
    state = _typed_state(ahead)
    assert {a.case_no for a in state["alarms"] if a.kind == "receipt_unprocessed"} == {f"C{n}" for n in range(5)}
    assert state == _typed_state(plain)
