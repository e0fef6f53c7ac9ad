"""No row stops the ingest (semantics.md, "Bad input"; issue 10): rows beyond every bound,
items no law sets, and cases whose judgement raises are set aside with a reason a person
can read, and every good row and case beside them goes on, through the real command line."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, insert, text

from app.base import exchange as x
from app.base.settings import Settings
from ingest import metrics
from ingest.runner import build

from .conftest import Supervise
from .exchange_builder import local

NOW = "2026-10-20T00:00:00+08:00"


def reasons(supervise, source=None) -> dict[int, str]:
    return {q["event_id"]: q["reason"] for q in supervise.quality() if source in (None, q["source"])}


def set_aside(what: str) -> float:
    return metrics.registry.get_sample_value("supervise_ingest_set_aside_total", {"what": what}) or 0.0


def good_case(exchange, case_no="GOOD"):
    """Received Tue 2026-09-29, accepted at once: its promise (5 working days) ran out on 10-12."""
    exchange.event(case_no, "received", "2026-09-29 09:00", item_code="ITEM-W")
    exchange.event(case_no, "accepted", "2026-09-29 09:30")


def assert_good_case_judged(supervise, case_no="GOOD"):
    case = supervise.case(case_no)
    assert (case["status"], case["promise_due"], case["alarms"]) == (
        "accepted",
        "2026-10-12",
        ["promise_warning", "promise_overdue"],
    )


# --- the two rows of the issue, and their kin -------------------------------------------------------


@pytest.mark.parametrize(
    "kind,payload,field",
    [
        # a date typed into the days field: before, OverflowError on every run, for good
        ("extended", {"days": 20261125}, "days"),
        # a limit above ~1.5 million days carried a due date past the year 9999
        ("step_started", {"step_id": "s1", "limit_days": 2_000_000}, "limit_days"),
        ("special_started", {"special_id": "h1", "type": "hearing", "limit_days": 3651}, "limit_days"),
    ],
)
def test_a_day_count_beyond_ten_years_is_set_aside_and_the_rest_goes_on(exchange, supervise, kind, payload, field):
    good_case(exchange)
    exchange.event("BAD", "received", "2026-09-29 10:00", item_code="ITEM-W")
    exchange.event("BAD", "accepted", "2026-09-29 10:30")
    exchange.event("BAD", kind, "2026-09-30 10:00", payload)
    out = supervise.ingest(NOW)
    assert "1 set aside" in out
    [reason] = reasons(supervise).values()
    assert f"'{field}'" in reason and str(payload[field]) in reason and "3650" in reason
    assert_good_case_judged(supervise)
    assert supervise.case("BAD")["alarms"] == ["promise_warning", "promise_overdue"]  # judged from its good rows
    assert "0 rows read" in supervise.ingest(NOW)  # and a rerun has nothing left to stumble on


def test_ten_years_is_still_a_limit(exchange, supervise):
    good_case(exchange)
    exchange.event("GOOD", "extended", "2026-09-30 10:00", {"days": 3650})
    supervise.ingest(NOW)
    assert supervise.quality() == []
    assert supervise.case("GOOD")["extension_days"] == 3650


@pytest.mark.parametrize(
    "sql,words",
    [
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES ('BAD', 'extended', "
            "'2026-09-30T10:00:00+08:00', '2026-09-30T10:00:00+08:00', '{\"days\": " + "9" * 5000 + "}')",
            ["number too long"],
        ),
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES ('BAD', 'completed', "
            "'2026-09-30T10:00:00+08:00', '2026-09-30T10:00:00+08:00', '{\"result\": \"approved\", \"fee_charged\": 1e15}')",
            ["fee_charged", "9,999,999,999.99"],
        ),
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES ('BAD', 'accepted', "
            "'9999-12-30T10:00:00+08:00', '9999-12-30T10:00:00+08:00', '{}')",
            ["occurred_at", "1970–2199"],
        ),
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES ('BAD', 'accepted', "
            "'2026-09-30T10:00:00+08:00', '2026-09-30T10:00:00+08:00', '{\"note\": \"\\ud800\"}')",
            ["lone surrogate"],
        ),
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES (cast(x'ff41' as text), "
            "'accepted', '2026-09-30T10:00:00+08:00', '2026-09-30T10:00:00+08:00', '{}')",
            ["case_no", "not UTF-8"],
        ),
        (
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, center_id, payload) VALUES ('BAD', "
            "'accepted', '2026-09-30T10:00:00+08:00', '2026-09-30T10:00:00+08:00', cast(x'c328' as text), '{}')",
            ["center_id", "not UTF-8"],
        ),
    ],
)
def test_rows_that_stopped_the_ingest_are_set_aside_with_a_reason(exchange, supervise, sql, words):
    good_case(exchange)
    exchange.raw(sql)
    good_case(exchange, "GOOD-AFTER")
    out = supervise.ingest(NOW)
    assert "1 set aside" in out
    [reason] = reasons(supervise).values()
    for word in words:
        assert word in reason
    assert_good_case_judged(supervise)
    assert_good_case_judged(supervise, "GOOD-AFTER")


LONG = "".join(__import__("random").Random(7).choice("abcdefghijklmnopqrstuvwxyz中文字段") for _ in range(12_000))


@pytest.mark.slow
@pytest.mark.parametrize(
    "write,words",
    [
        (
            lambda exchange: exchange.event(LONG, "received", "2026-09-29 10:00", item_code="ITEM-W"),
            ["case_no", "12,000"],
        ),
        (
            lambda exchange: exchange.event("BAD", "received", "2026-09-29 10:00", item_code="ITEM-W", center_id=LONG),
            ["center_id", "12,000"],
        ),
        (
            lambda exchange: exchange.event(
                "GOOD", "step_started", "2026-09-29 11:00", {"step_id": LONG, "limit_days": 1}
            ),
            ["step_id", "12,000"],
        ),
    ],
)
def test_an_id_longer_than_an_index_holds_is_set_aside_on_postgresql(
    exchange, tmp_path, pg_url, monkeypatch, write, words
):
    """PostgreSQL refuses an index entry of more than a few kB: one such id stopped every batch."""
    monkeypatch.delenv("SUPERVISE_REDIS_URL", raising=False)
    supervise = Supervise(
        {
            "SUPERVISE_VAR_DIR": str(tmp_path),
            "SUPERVISE_EXCHANGE_URL": str(exchange.engine.url),
            "SUPERVISE_DB_URL": pg_url,
        }
    )
    good_case(exchange)
    write(exchange)
    good_case(exchange, "GOOD-AFTER")
    assert "1 set aside" in supervise.ingest(NOW)
    [reason] = reasons(supervise).values()
    assert all(word in reason for word in words) and len(reason) < 500
    assert_good_case_judged(supervise)
    assert_good_case_judged(supervise, "GOOD-AFTER")


def test_an_applicant_phone_that_is_no_phone_number_is_left_out(exchange, supervise, tmp_path):
    """An optional field: the case is taken in and judged, without a phone to send the SMS to."""
    exchange.event("GOOD", "received", "2026-09-29 09:00", {"applicant_phone": LONG}, item_code="ITEM-W")
    exchange.event("GOOD", "accepted", "2026-09-29 09:30")
    supervise.ingest(NOW)
    assert_good_case_judged(supervise)
    with create_engine(f"sqlite:///{tmp_path / 'supervise.db'}").connect() as conn:
        assert conn.execute(text("SELECT applicant_phone FROM cases")).scalar_one() is None


def test_an_onsite_rating_dated_beyond_any_year_is_refused(exchange, supervise):
    exchange.raw(
        "INSERT INTO onsite_ratings (case_no, window_id, score, rated_at) "
        "VALUES ('GOOD', 'W-A01', 10, '9999-12-30T10:00:00+08:00')"
    )
    supervise.ingest(NOW)
    [reason] = reasons(supervise, "onsite_ratings").values()
    assert "rated_at" in reason and "1970–2199" in reason


# --- an item no law sets --------------------------------------------------------------------------


def test_an_item_with_an_absurd_limit_is_refused_and_its_cases_wait_until_it_is_fixed(exchange, supervise):
    exchange.raw(
        "INSERT INTO items (item_code, name, dept_id, promised_days, statutory_days) "
        "VALUES ('ITEM-X', '某许可', 'D-SCJG', 2000000, 20)"
    )
    good_case(exchange)
    exchange.event("WAITS", "received", "2026-09-29 09:00", item_code="ITEM-X")
    exchange.event("WAITS", "accepted", "2026-09-29 09:30")
    out = supervise.ingest(NOW)
    assert "0 set aside" in out  # its rows are taken in, not lost
    [item] = reasons(supervise, "items").values()
    assert "ITEM-X" in item and "promised_days 2000000" in item
    [waiting] = reasons(supervise, "judging").values()
    assert "'WAITS'" in waiting and "ITEM-X" in waiting and "promised_days 2000000" in waiting
    assert_good_case_judged(supervise)
    assert supervise.case("WAITS")["status"] == "received"  # as taken in, not judged
    assert supervise.alarms(*["--case", "WAITS"]) == []

    supervise.ingest(NOW)  # still refused: nothing new is logged
    assert len(supervise.quality()) == 2

    exchange.raw("UPDATE items SET promised_days = 5 WHERE item_code = 'ITEM-X'")  # the office fixes the row
    supervise.ingest(NOW)
    case = supervise.case("WAITS")
    assert (case["status"], case["promise_due"], case["alarms"]) == (
        "accepted",
        "2026-10-12",
        ["promise_warning", "promise_overdue"],
    )


@pytest.mark.parametrize(
    "values,words",
    [
        ("'ITEM-X', 'x', 'D-SCJG', 5, 20, 'fortnightly', 0", ["day_unit", "fortnightly"]),
        ("'ITEM-X', 'x', 'D-SCJG', 'five', 20, 'working', 0", ["promised_days", "'five'", "whole number"]),
        ("'ITEM-X', 'x', 'D-SCJG', 5, 2.5, 'working', 0", ["statutory_days", "2.5"]),
        ("'ITEM-X', 'x', 'D-SCJG', 5, 20, 'working', 'NaN'", ["fee_yuan"]),
    ],
)
def test_an_item_row_that_cannot_be_read_is_refused_with_its_reason(exchange, supervise, values, words):
    # SQLite keeps what it is given; the contract's CHECK on day_unit is SQLite's too, so drop it here
    with exchange.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        conn.exec_driver_sql(
            "INSERT INTO items (item_code, name, dept_id, promised_days, statutory_days, day_unit, "
            f"fee_yuan) VALUES ({values})"
        )
    good_case(exchange)
    exchange.event("WAITS", "received", "2026-09-29 09:00", item_code="ITEM-X")
    supervise.ingest(NOW)
    [item] = reasons(supervise, "items").values()
    for word in words:
        assert word in item
    assert "ITEM-X" in reasons(supervise, "judging")[supervise_last_event(exchange)]
    assert_good_case_judged(supervise)


def supervise_last_event(exchange) -> int:
    with exchange.engine.connect() as conn:
        return conn.execute(text("SELECT max(event_id) FROM case_events")).scalar_one()


# --- the last net: a case whose judgement raises ------------------------------------------------------


def extensions(exchange, case_no: str, n: int, start: str = "2026-10-13 09:00") -> None:
    """`n` extensions of ten years each, a minute apart: each within bounds, all of them together
    carry the due date past the year 9999 (OverflowError in the date arithmetic)."""
    base = local(start)
    rows = [
        {
            "case_no": case_no,
            "kind": "extended",
            "occurred_at": base + timedelta(minutes=i),
            "recorded_at": base + timedelta(minutes=i, seconds=1),
            "payload": {"days": 3650},
        }
        for i in range(n)
    ]
    with exchange.engine.begin() as conn:
        conn.execute(insert(x.case_events), rows)


def test_a_case_whose_judgement_raises_is_set_aside_and_keeps_its_alarms(exchange, supervise):
    good_case(exchange)
    good_case(exchange, "DOOMED")
    supervise.ingest(NOW)
    before = supervise.case("DOOMED")
    assert before["alarms"] == ["promise_warning", "promise_overdue"]

    counted = set_aside("case")
    extensions(exchange, "DOOMED", 700)
    exchange.event("GOOD", "completed", "2026-10-20 09:00", {"result": "approved"})
    out = supervise.ingest("2026-10-21T00:00:00+08:00")
    assert "1 cases set aside" in out
    assert set_aside("case") == counted + 1
    [reason] = reasons(supervise, "judging").values()
    assert "'DOOMED'" in reason and "OverflowError" in reason and "judged again when a new event arrives" in reason
    assert supervise.case("DOOMED") == before  # its earlier judgement stands
    assert [a["kind"] for a in supervise.alarms("--case", "DOOMED")] == ["promise_overdue"]  # and its alarm
    assert supervise.case("GOOD")["status"] == "completed"  # the case beside it went on

    supervise.ingest("2026-10-22T00:00:00+08:00")  # set aside: not judged again by the clock
    assert set_aside("case") == counted + 1

    exchange.event("DOOMED", "correction_received", "2026-10-22 09:00")  # it changes: judged again
    supervise.ingest("2026-10-23T00:00:00+08:00")
    assert set_aside("case") == counted + 2
    assert len(reasons(supervise, "judging")) == 2  # a new entry, under its newest event


def test_a_case_set_aside_by_workers_is_counted_and_the_others_are_stored(exchange, tmp_path, pg_url):
    """On PostgreSQL a backlog is judged by worker processes: the net holds there too, and the
    parent counts what they set aside."""
    for n in range(6):
        good_case(exchange, f"G{n}")
    good_case(exchange, "DOOMED")
    extensions(exchange, "DOOMED", 700)
    ingest = build(Settings(var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=pg_url), batch_size=2)
    ingest.judge_workers = 2
    counted = set_aside("case")
    totals = ingest.run_once(local("2026-10-20 00:00"))
    assert (totals.set_aside, set_aside("case")) == (1, counted + 1)
    with create_engine(pg_url).connect() as conn:
        judged = dict(conn.execute(text("SELECT case_no, promise_due FROM cases")).all())
        [reason] = conn.execute(text("SELECT reason FROM quality_log WHERE source = 'judging'")).scalars()
    assert all(str(judged[f"G{n}"]) == "2026-10-12" for n in range(6))
    assert "DOOMED" in reason and "OverflowError" in reason


test_a_case_set_aside_by_workers_is_counted_and_the_others_are_stored = pytest.mark.slow(
    test_a_case_set_aside_by_workers_is_counted_and_the_others_are_stored
)


def test_a_case_judged_ahead_whose_judgement_raises_is_set_aside_at_the_instant(exchange, tmp_path, monkeypatch):
    from ingest import pipeline

    for case_no in ("A1", "A2", "A3"):
        exchange.event(case_no, "received", "2026-09-29 10:00", item_code="ITEM-W")
    instant = local("2026-10-13 00:00")
    ingest = build(
        Settings(var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=f"sqlite:///{tmp_path / 'ahead.db'}"),
        batch_size=50,
    )
    ingest.run_once(instant - timedelta(hours=1))
    judge_case = pipeline.judge_case

    def judge_but_a2(events, *args):  # a fault rules cannot be made to show at one given instant
        if events[0].case_no == "A2":
            raise ArithmeticError("a fault in judging")
        return judge_case(events, *args)

    monkeypatch.setattr(pipeline, "judge_case", judge_but_a2)
    assert ingest.prepare_ahead(instant - timedelta(seconds=5)) == 3
    assert set(ingest.ahead.cases) == {"A1", "A3"}
    totals = ingest.fire_due(instant + timedelta(seconds=0.3))
    assert totals.set_aside == 1
    with ingest.db.connect() as conn:
        kinds = conn.execute(text("SELECT case_no, kind FROM alarms ORDER BY 1, 2")).all()
        [reason] = conn.execute(text("SELECT reason FROM quality_log WHERE source = 'judging'")).scalars()
    assert [tuple(k) for k in kinds] == [
        ("A1", "promise_overdue"),
        ("A1", "receipt_unprocessed"),
        ("A3", "promise_overdue"),
        ("A3", "receipt_unprocessed"),
    ]
    assert "'A2'" in reason and "ArithmeticError: a fault in judging" in reason


def test_a_rating_whose_judgement_raises_is_set_aside(exchange, supervise, tmp_path):
    """An SMS rating is written by the web server, not checked like an exchange row: one dated
    at the end of time made the rectification clock overflow."""
    good_case(exchange)
    supervise.ingest(NOW)
    db = create_engine(f"sqlite:///{tmp_path / 'supervise.db'}")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ratings (source, source_id, case_no, score, rated_at, next_change) VALUES "
                "('sms', 'm1', 'GOOD', 10, '9999-12-30 00:00:00', '1970-01-01 00:00:00'), "
                "('sms', 'm2', 'GOOD', 10, '2026-10-19 00:00:00', '1970-01-01 00:00:00')"
            )
        )
    counted = set_aside("rating")
    supervise.ingest(NOW)
    assert set_aside("rating") == counted + 1
    [reason] = reasons(supervise, "judging").values()
    assert "rating sms:1" in reason and "OverflowError" in reason
    assert [a["subject"] for a in supervise.alarms() if a["kind"] == "low_satisfaction"] == ["sms:2"]
