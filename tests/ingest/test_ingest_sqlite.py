"""The ingest end to end on SQLite, through the real command line.

Due dates are computed by hand from the State Council notices; the comment on
each says why it matters.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError


def kinds(alarms, **where):
    return sorted(a["kind"] for a in alarms if all(a[k] == v for k, v in where.items()))


def by_kind(alarms):
    return {a["kind"]: a for a in alarms}


def test_national_day_2025_and_a_late_completion_retracts_the_overdue(exchange, supervise):
    # Accepted Mon 2025-09-29; 5 working days: 09-30, (10-01..08 off), 10-09, 10-10,
    # 10-11 (a make-up Saturday: it counts), 10-13. Due 2025-10-13.
    exchange.event("C1", "received", "2025-09-29 09:00", {"applicant_phone": "13812341234"}, item_code="ITEM-W")
    exchange.event("C1", "accepted", "2025-09-29 10:00")
    supervise.ingest("2025-10-14T08:00:00+08:00")
    alarms = by_kind(supervise.alarms("--state", "all"))
    # The warning fires on the working day before the due date: the make-up Saturday.
    assert alarms["promise_warning"]["fired_at"] == "2025-10-11T00:00:00+08:00"
    # Red supersedes yellow: the warning closed when the overdue fired.
    assert (alarms["promise_warning"]["state"], alarms["promise_warning"]["closed_reason"]) == ("closed", "resolved")
    assert alarms["promise_overdue"]["fired_at"] == "2025-10-14T00:00:00+08:00"
    assert alarms["promise_overdue"]["due"] == "2025-10-13" and alarms["promise_overdue"]["state"] == "open"
    case = supervise.case("C1")
    # 20 statutory working days from 09-29 end on Mon 2025-11-03.
    assert (case["promise_due"], case["statutory_due"], case["on_time"]) == ("2025-10-13", "2025-11-03", None)

    # The completion happened on the due date but is pushed a day late.
    exchange.event("C1", "completed", "2025-10-13 16:00", {"result": "approved"}, recorded="2025-10-14 09:00")
    supervise.ingest("2025-10-14T10:00:00+08:00")
    alarms = by_kind(supervise.alarms("--state", "all"))
    assert alarms["promise_overdue"]["closed_reason"] == "retracted"
    assert supervise.case("C1")["on_time"] is True
    assert supervise.case("C1")["alarms"] == ["promise_warning"]  # a retracted alarm never counts
    assert supervise.alarms() == []  # nothing left open


def test_clock_alarms_fire_with_no_new_event_and_deemed_acceptance(exchange, supervise):
    # Received Tue 2026-09-29 and never answered. Receipt clock: 09-30, (10-01..07 off),
    # 10-08, 10-09, 10-10 (make-up Saturday), 10-12. Missed, so the case counts as
    # accepted on the day of receipt (第32条) and its promise is due 10-12 as well.
    exchange.event("C2", "received", "2026-09-29 10:00", item_code="ITEM-W")
    supervise.ingest("2026-10-09T12:00:00+08:00")
    assert supervise.alarms() == []
    assert supervise.case("C2")["deemed_accepted"] is False

    supervise.ingest("2026-10-13T09:00:00+08:00")  # no new row: only the due index fires
    alarms = by_kind(supervise.alarms("--state", "all"))
    assert alarms["receipt_unprocessed"]["fired_at"] == "2026-10-13T00:00:00+08:00"
    # The promise clock only became known at 00:00 on 10-13, when red superseded any yellow.
    assert "promise_warning" not in alarms
    assert alarms["promise_overdue"]["fired_at"] == "2026-10-13T00:00:00+08:00"
    case = supervise.case("C2")
    assert (case["deemed_accepted"], case["start_date"], case["promise_due"]) == (True, "2026-09-29", "2026-10-12")


def test_running_again_changes_nothing(exchange, supervise, tmp_path):
    exchange.event("C3", "received", "2025-09-29 09:00", item_code="ITEM-W")
    exchange.event("C3", "correction_notice", "2025-09-30 09:00", {"materials": ["营业执照"]})
    exchange.event("C3", "correction_notice", "2025-10-09 09:00", {"materials": ["身份证"]})
    supervise.ingest("2025-10-20T00:00:00+08:00")

    def dump():
        engine = create_engine(f"sqlite:///{tmp_path / 'supervise.db'}")
        with engine.connect() as conn:
            return {
                t: conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
                for t in ("cases", "alarms", "alarm_actions", "quality_log", "events")
            }

    before = dump()
    supervise.ingest("2025-10-20T00:00:00+08:00")
    assert dump() == before
    # A second correction notice breaks the one-time rule; subject = its date.
    repeated = [a for a in supervise.alarms() if a["kind"] == "correction_repeated"]
    assert [a["subject"] for a in repeated] == ["2025-10-09"]


def test_bad_rows_go_to_the_quality_log_and_good_rows_beside_them_are_kept(exchange, supervise):
    exchange.event("G1", "received", "2025-11-03 09:00", item_code="ITEM-W")
    bad = {
        "case_no": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES (NULL, 'accepted', '2025-11-03T10:00:00+08:00', '{}')",
        "kind": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', NULL, '2025-11-03T10:00:00+08:00', '{}')",
        "occurred_at": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'accepted', NULL, '{}')",
        "unknown kind": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'approved_by_magic', '2025-11-03T10:00:00+08:00', '{}')",
        "not an object": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'accepted', '2025-11-03T10:00:00+08:00', '[1, 2]')",
        "not json": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'accepted', '2025-11-03T10:00:00+08:00', '{oops')",
        "step_id": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'step_started', '2025-11-03T10:00:00+08:00', '{\"limit_days\": 3}')",
        "item": "INSERT INTO case_events (case_no, kind, occurred_at, item_code, payload) VALUES ('G2', 'received', '2025-11-03T10:00:00+08:00', 'NO-SUCH-ITEM', '{}')",
        "future": "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, payload) VALUES ('G1', 'accepted', '2025-11-03T11:00:00+08:00', '2025-11-03T10:00:00+08:00', '{}')",
        "garbage instant": "INSERT INTO case_events (case_no, kind, occurred_at, payload) VALUES ('G1', 'accepted', 'yesterday-ish', '{}')",
    }
    for sql in bad.values():
        exchange.raw(sql)
    exchange.event("G1", "accepted", "2025-11-03 10:30")
    out = supervise.ingest("2025-11-04T00:00:00+08:00")
    assert "10 set aside" in out
    reasons = [q["reason"] for q in supervise.quality()]
    assert len(reasons) == len(bad) == len(set(reasons))  # each says what is wrong with its own row
    joined = " | ".join(reasons).lower()
    for word in (
        "case_no",
        "kind",
        "occurred_at",
        "approved_by_magic",
        "object",
        "step_id",
        "no-such-item",
        "recorded_at",
    ):
        assert word in joined, word
    assert supervise.case("G1")["status"] == "accepted"  # the good row beside them was taken in


def test_an_exact_repeat_is_ignored(exchange, supervise):
    exchange.event("D1", "received", "2025-11-03 09:00", item_code="ITEM-FEE")
    for _ in range(2):
        exchange.event("D1", "completed", "2025-11-03 15:00", {"result": "approved", "fee_charged": 80})
    out = supervise.ingest("2025-11-04T00:00:00+08:00")
    assert "1 repeats ignored" in out
    alarms = supervise.alarms()
    assert kinds(alarms) == ["fee_violation", "procedure_anomaly"]  # charged 80 > 50; completed without acceptance
    assert by_kind(alarms)["procedure_anomaly"]["subject"] == "completed_without_acceptance"
    assert supervise.quality() == []


def test_an_orphan_is_held_then_set_aside_after_24_hours_and_taken_in_if_its_case_arrives(exchange, supervise):
    exchange.event("O1", "accepted", "2025-11-03 10:00", recorded="2025-11-03 10:00:05")
    supervise.ingest("2025-11-03T12:00:00+08:00")
    assert supervise.quality() == []  # held, not rejected
    assert supervise("case", "O1", "--json", ok=False).exit_code != 0
    supervise.ingest("2025-11-04T10:00:06+08:00")  # 24 h after it was recorded
    [entry] = supervise.quality()
    assert "O1" in entry["reason"] and "24" in entry["reason"]
    # The received turns up days late: no good row is lost, the held event counts.
    exchange.event("O1", "received", "2025-11-03 09:00", item_code="ITEM-W", recorded="2025-11-06 09:00")
    supervise.ingest("2025-11-06T10:00:00+08:00")
    assert supervise.case("O1")["status"] == "accepted"


def test_officer_actions_are_recorded_and_history_cannot_be_edited(exchange, supervise, tmp_path):
    exchange.event("A1", "received", "2025-11-03 09:00", item_code="ITEM-FEE")
    exchange.event("A1", "accepted", "2025-11-03 09:30")
    exchange.event("A1", "completed", "2025-11-03 15:00", {"result": "approved", "fee_charged": 80})
    supervise.ingest("2025-11-04T00:00:00+08:00")
    [alarm] = supervise.alarms()
    assert alarm["kind"] == "fee_violation"
    supervise("alarm", "ack", str(alarm["id"]), "--by", "王督查", "--note", "已电话核实")
    supervise("alarm", "urge", str(alarm["id"]), "--by", "王督查", "--note", "限三日内退费")
    supervise("alarm", "close", str(alarm["id"]), "--by", "王督查", "--note", "已退费")
    assert supervise.alarms() == []
    refused = supervise("alarm", "ack", str(alarm["id"]), "--by", "王督查", "--note", "x", ok=False)
    assert refused.exit_code == 1 and "already closed" in refused.output
    missing_note = supervise("alarm", "ack", str(alarm["id"]), "--by", "王督查", "--note", " ", ok=False)
    assert missing_note.exit_code != 0 and "note" in missing_note.output

    engine = create_engine(f"sqlite:///{tmp_path / 'supervise.db'}")
    with engine.connect() as conn:
        trail = conn.execute(text("SELECT action, actor, note FROM alarm_actions ORDER BY id")).all()
    # Fired at 15:00 and still unacknowledged when the ingest ran at midnight: escalated at 15:30.
    assert [tuple(r) for r in trail] == [
        ("fired", "system", ""),
        ("escalated", "system", ""),
        ("ack", "王督查", "已电话核实"),
        ("urge", "王督查", "限三日内退费"),
        ("close", "王督查", "已退费"),
    ]
    for sql in ("UPDATE alarm_actions SET note = 'x'", "DELETE FROM alarm_actions"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))


def test_bad_now_is_a_clear_error(supervise):
    result = supervise("ingest", "--once", "--now", "next tuesday", ok=False)
    assert result.exit_code == 2 and "ISO 8601" in result.output and "Traceback" not in result.output


def test_a_center_calendar_file_moves_its_due_dates_and_no_other_center(exchange, supervise, tmp_path):
    # The Nanning center closes on Fri 2025-11-07 (say, a local emergency) and opens Sat 2025-11-15.
    folder = tmp_path / "calendars"
    folder.mkdir()
    (folder / "GX-450100.toml").write_text('closures = ["2025-11-07"]\nworking_days = ["2025-11-15"]\n')
    supervise.env["SUPERVISE_CALENDAR_DIR"] = str(folder)
    for case_no, center in (("K1", "GX-450100"), ("K2", "GX-450102")):
        exchange.event(case_no, "received", "2025-11-03 09:00", item_code="ITEM-W", center_id=center)
        exchange.event(case_no, "accepted", "2025-11-03 09:30", center_id=center)
    supervise.ingest("2025-11-04T00:00:00+08:00")
    # Official: 11-04, 05, 06, 07, 10 -> due Mon 11-10. With 11-07 closed: 04, 05, 06, 10, 11.
    assert supervise.case("K1")["promise_due"] == "2025-11-11"
    assert supervise.case("K2")["promise_due"] == "2025-11-10"


def test_a_bad_calendar_file_is_refused_with_its_name(exchange, supervise, tmp_path):
    folder = tmp_path / "calendars"
    folder.mkdir()
    (folder / "GX-450100.toml").write_text('closures = ["2025-13-07"]\n')
    supervise.env["SUPERVISE_CALENDAR_DIR"] = str(folder)
    result = supervise("ingest", "--once", ok=False)
    assert result.exit_code == 2 and "GX-450100.toml" in result.output and "2025-13-07" in result.output


def test_a_low_onsite_rating_warns_and_its_follow_up_clock_runs_over_national_day(exchange, supervise):
    exchange.event("S1", "received", "2026-09-29 09:00", item_code="ITEM-W")
    exchange.raw(
        "INSERT INTO onsite_ratings (case_no, window_id, staff_id, score, rated_at) "
        "VALUES ('S1', 'W-A01', 'S-001', 0, '2026-09-29T10:00:00+08:00')"
    )
    supervise.ingest("2026-09-29T12:00:00+08:00")
    [warning] = [a for a in supervise.alarms() if a["kind"] == "low_satisfaction"]
    assert (warning["level"], warning["fired_at"], warning["window_id"]) == (
        "warning",
        "2026-09-29T10:00:00+08:00",
        "W-A01",
    )
    # 15 working days from 09-29: 09-30, (10-01..07 off), 10-08, 09, 10 (make-up Saturday), 12 … 10-26.
    supervise.ingest("2026-10-26T23:59:59+08:00")
    assert "rectification_overdue" not in {a["kind"] for a in supervise.alarms()}
    supervise.ingest("2026-10-27T00:00:00+08:00")
    [overdue] = [a for a in supervise.alarms() if a["kind"] == "rectification_overdue"]
    assert (overdue["fired_at"], overdue["due"]) == ("2026-10-27T00:00:00+08:00", "2026-10-26")


def test_a_repeat_written_with_another_offset_is_the_same_instant_and_ignored(exchange, supervise):
    """SQLite holds instants as text: 15:00+08:00 and 07:00Z are one occurred_at (semantics.md:
    an exact repeat has the same case, kind, occurred_at and payload)."""
    exchange.event("D2", "received", "2025-11-03 09:00", item_code="ITEM-FEE")
    row = (
        "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, center_id, payload) "
        "VALUES ('D2', 'accepted', :at, '2025-11-03T07:00:05Z', 'GX-450100', '{}')"
    )
    exchange.raw(row, at="2025-11-03T15:00:00+08:00")
    exchange.raw(row, at="2025-11-03T07:00:00Z")
    out = supervise.ingest("2025-11-04T00:00:00+08:00")
    assert "1 repeats ignored" in out
