"""Escalation is recorded: one 'escalated' entry by 'system' per alarm, at the instant
it passed the limit (event time), announced on the alarm stream, exactly once
however many processes sweep, and shown on the case page and in the dossier PDF."""

from __future__ import annotations

import subprocess
import threading
from datetime import datetime, timedelta

import fakeredis
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from app.base.tables import alarm_actions, alarms
from ingest.escalation import escalate
from tests.web.conftest import NOW, make_region

LIMIT = timedelta(minutes=30)


def escalations(engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(alarm_actions.c.alarm_id, alarm_actions.c.actor, alarm_actions.c.at, alarm_actions.c.note).where(
                alarm_actions.c.action == "escalated"
            )
        ).all()
    return {alarm_id: (actor, at, note) for alarm_id, actor, at, note in rows}


def acknowledge(engine, alarm_id: int, at) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(alarms)
            .where(alarms.c.id == alarm_id)
            .values(state="acknowledged", acknowledged_at=at, updated_at=at)
        )


def test_recorded_at_the_instant_the_limit_passed_and_only_once(region):
    overdue = [ids[0] for ids in region.alarm_ids.values()]  # fired two hours before NOW
    warnings = [ids[1] for ids in region.alarm_ids.values()]  # fired five minutes before NOW
    changes = escalate(region.engine, NOW, LIMIT)
    assert sorted(c.alarm_id for c in changes) == sorted(overdue)
    recorded = escalations(region.engine)
    # At fired_at + limit, not when the sweep noticed: history is told in event time.
    assert recorded == {a: ("system", NOW - timedelta(minutes=90), "") for a in overdue}
    assert escalate(region.engine, NOW, LIMIT) == []  # a second sweep records nothing again
    # The boundary: 25 minutes on, the warnings are exactly 30 minutes old and escalate; a second earlier they do not.
    assert escalate(region.engine, NOW + timedelta(minutes=25, seconds=-1), LIMIT) == []
    changes = escalate(region.engine, NOW + timedelta(minutes=25), LIMIT)
    assert sorted(c.alarm_id for c in changes) == sorted(warnings)
    assert {escalations(region.engine)[a][1] for a in warnings} == {NOW + timedelta(minutes=25)}
    assert len(escalations(region.engine)) == len(overdue) + len(warnings)


def test_acknowledged_in_time_never_escalates_but_late_acknowledgement_does(region):
    d = "GX-450102:MZ"
    in_time = region.add_alarm(d, fired_at=NOW - timedelta(minutes=20))
    acknowledge(region.engine, in_time, NOW - timedelta(minutes=15))  # before its limit
    escalate(region.engine, NOW, LIMIT)  # the sweep has a mark from here on
    late = region.add_alarm(d, fired_at=NOW + timedelta(minutes=1))
    # The sweep stops for an hour (ingest down); meanwhile the alarm passes its limit and is acknowledged after.
    acknowledge(region.engine, late, NOW + timedelta(minutes=45))
    changes = escalate(region.engine, NOW + timedelta(hours=1), LIMIT)
    recorded = escalations(region.engine)
    assert in_time not in recorded
    assert late in {c.alarm_id for c in changes} and recorded[late][1] == NOW + timedelta(minutes=31)
    escalate(region.engine, NOW + timedelta(days=1), LIMIT)
    assert in_time not in escalations(region.engine)


def test_an_alarm_that_fired_long_ago_from_late_data_is_recorded_by_the_next_sweep(region):
    escalate(region.engine, NOW, LIMIT)
    late = region.add_alarm("GX-450202:SC", fired_at=NOW - timedelta(hours=3))  # inserted after the mark
    changes = escalate(region.engine, NOW + timedelta(seconds=1), LIMIT)
    assert [c.alarm_id for c in changes] == [late]
    assert escalations(region.engine)[late][1] == NOW - timedelta(hours=2, minutes=30)


def test_published_on_the_alarm_stream_like_other_changes(region):
    from app.base.alarm_stream import read_after
    from app.base.outbox import Relay

    redis = fakeredis.FakeRedis()
    relay = Relay(region.engine, redis)
    returned = escalate(region.engine, NOW, LIMIT)
    relay.drain()
    _, messages = read_after(redis, "0-0")
    assert [m.model_dump(exclude={"change_id"}) for m in messages] == [
        c.model_dump(exclude={"change_id"}) for c in returned
    ] and messages
    first = messages[0]
    assert (first.action, first.actor, first.state, first.kind) == ("escalated", "system", "open", "promise_overdue")
    assert first.at == first.fired_at + LIMIT and first.center_id and first.dept_id
    escalate(region.engine, NOW, LIMIT)
    relay.drain()
    assert len(read_after(redis, "0-0")[1]) == len(messages)  # nothing announced twice


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def any_region(request, web_settings):
    if request.param == "sqlite":
        return make_region(web_settings)
    return make_region(web_settings.model_copy(update={"db_url": request.getfixturevalue("pg_url")}))


def test_exactly_once_when_several_processes_sweep_at_the_same_instant(any_region):
    from app.base.outbox import Relay

    region = any_region
    redis = fakeredis.FakeRedis()
    start = threading.Barrier(6)
    returned: list = []
    failures: list = []

    def sweep():
        try:
            start.wait()
            returned.extend(escalate(region.engine, NOW + timedelta(hours=1), LIMIT))
            Relay(region.engine, redis).drain()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    every_alarm = {a for ids in region.alarm_ids.values() for a in ids}
    assert set(escalations(region.engine)) == every_alarm
    assert sorted(c.alarm_id for c in returned) == sorted(every_alarm)  # each announced by exactly one sweeper
    assert len(redis.xrange("supervise:alarms")) == len(every_alarm)
    with region.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(alarm_actions.c.action == "escalated")).scalar() == len(
            every_alarm
        )


def test_the_database_refuses_a_second_escalation_of_one_alarm(region):
    from sqlalchemy.exc import IntegrityError

    alarm_id = region.alarm_ids["GX-450102:MZ"][0]
    escalate(region.engine, NOW, LIMIT)
    with pytest.raises(IntegrityError), region.engine.begin() as conn:
        conn.execute(
            alarm_actions.insert().values(alarm_id=alarm_id, action="escalated", actor="system", note="", at=NOW)
        )


def test_case_page_and_dossier_show_the_escalation(region, web_app, tmp_path):
    from dash._utils import to_json

    from app.base.exchange import exchange_engine
    from app.callbacks.case import page
    from app.pdf import Sources, case_dossier
    from app.queries.reference import read_reference
    from app.scope import scope_for

    escalate(region.engine, NOW, LIMIT)
    case_no = region.case_nos["GX-450102:MZ"][0]
    services = web_app.extensions["supervise"]
    scope = scope_for("region", "GX-450000", services.reference.get())
    with web_app.test_request_context("/"):
        drawn = to_json(page(services, scope, "zh", case_no))
    assert "升级" in drawn and "已超 30 分钟未确认" in drawn and "系统" in drawn and '"system"' not in drawn
    reference = read_reference(exchange_engine(region.settings.exchange_url_resolved))
    sources = Sources(
        region.engine, reference, NOW, region.settings.zone, services.calendar, region.settings.var_dir, "tester"
    )
    out = tmp_path / "case.pdf"
    out.write_bytes(case_dossier(sources, scope, case_no))
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "升级 系统 已超 30 分钟未确认" in text.replace("\n", " ")  # the actor in words, not 'system'


def test_escalate_command(region, monkeypatch):
    from app.cli import cli

    monkeypatch.setenv("SUPERVISE_VAR_DIR", str(region.settings.var_dir))
    result = CliRunner().invoke(cli, ["escalate", "--now", "2026-11-27T10:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "escalated 12 alarm(s)"
    assert (
        CliRunner().invoke(cli, ["escalate", "--now", "2026-11-27T10:00:00+08:00"]).output.strip()
        == "escalated 0 alarm(s)"
    )
    bad = CliRunner().invoke(cli, ["escalate", "--now", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO 8601 instant" in bad.output


@pytest.mark.slow
def test_a_sweep_of_more_alarms_than_one_statement_takes_records_them_all(web_settings, pg_url):
    """Thousands at once, as after a backfill: recorded in statements of CHUNK alarms, on
    PostgreSQL too. The driver prepares a statement run five times and the server plans it
    generically after five more: a generic plan can match the partial index only to its
    predicate written out, not to a parameter (twelve statements get there)."""
    from sqlalchemy import text

    from ingest.escalation import CHUNK

    region = make_region(web_settings.model_copy(update={"db_url": pg_url}))
    with region.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alarms (kind, level, case_no, subject, center_id, dept_id, window_id, staff_id, camera_id, "
                "fired_at, due, state, closed_reason, closed_at, updated_at) "
                "SELECT kind, level, case_no || '-' || n, subject, center_id, dept_id, window_id, staff_id, camera_id, "
                "fired_at, due, 'open', NULL, NULL, updated_at FROM alarms, generate_series(1, :n) AS n "
                "WHERE id = (SELECT min(id) FROM alarms)"
            ),
            {"n": CHUNK * 12 + 1},
        )
        open_alarms = conn.execute(select(func.count()).where(alarms.c.state == "open")).scalar()
    recorded = escalate(region.engine, NOW + timedelta(days=30), LIMIT)
    assert len(recorded) == open_alarms > CHUNK
    assert len(escalations(region.engine)) == open_alarms


# --- repeatable: the records depend on the alarms alone, not on when or how often the sweep ran ------


T0 = NOW - timedelta(hours=12)
MINUTES = st.integers(0, 24 * 60)


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory):
    """A migrated supervision database with no alarms, copied for each example."""
    from app.base.database import make_engine, upgrade

    path = tmp_path_factory.mktemp("escalation") / "empty.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


class History:
    """Alarms in a scratch copy of the supervision database, with their acknowledgements and closes."""

    def __init__(self, template, directory):
        import shutil

        from app.base.database import make_engine

        path = directory / f"h{next(self._copies)}.db"
        shutil.copy(template, path)
        self.engine = make_engine(f"sqlite:///{path}")

    _copies = __import__("itertools").count()

    def insert(
        self, n: int, fired: datetime, at: datetime, ack: datetime | None = None, close: datetime | None = None
    ) -> None:
        """Alarm number `n`, stored at `at` as it stands then (acknowledged or closed before `at` included)."""
        ack = ack if ack is not None and ack <= at else None
        close = close if close is not None and close <= at else None
        state = "closed" if close else "acknowledged" if ack else "open"
        with self.engine.begin() as conn:
            conn.execute(
                alarms.insert().values(
                    id=n,
                    kind="promise_overdue",
                    level="alarm",
                    case_no=f"C{n}",
                    subject="",
                    center_id="GX-450102",
                    dept_id="GX-450102:MZ",
                    fired_at=fired,
                    state=state,
                    acknowledged_at=ack,
                    closed_at=close,
                    closed_reason="resolved" if close else None,
                    updated_at=at,
                )
            )

    def acknowledge(self, n: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == n, alarms.c.state == "open")
                .values(state="acknowledged", acknowledged_at=at, updated_at=at)
            )

    def close(self, n: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(alarms)
                .where(alarms.c.id == n, alarms.c.state != "closed")
                .values(state="closed", closed_reason="resolved", closed_at=at, updated_at=at)
            )

    def records(self) -> dict[int, datetime]:
        return {alarm_id: at for alarm_id, (_, at, _) in escalations(self.engine).items()}


def expected(alarm_list, swept_until: datetime, stored_by=None) -> dict[int, datetime]:
    """Escalated: the limit passed by the last sweep (and, with data arriving over time, the alarm
    stored by then), neither acknowledged nor closed at that instant."""
    out = {}
    for n, (fired, stored, ack, close) in enumerate(alarm_list, 1):
        limit = fired + LIMIT
        if (
            limit <= swept_until
            and (stored_by is None or stored <= swept_until)
            and all(t is None or t > limit for t in (ack, close))
        ):
            out[n] = limit
    return out


def _alarm(fired, stored_delay, ack, close):
    fired_at = T0 + timedelta(minutes=fired)
    return (
        fired_at,
        fired_at + timedelta(minutes=stored_delay),
        None if ack is None else fired_at + timedelta(minutes=ack),
        None if close is None else fired_at + timedelta(minutes=close),
    )


ALARMS = st.lists(
    st.tuples(MINUTES, st.integers(0, 300), st.none() | st.integers(0, 90), st.none() | st.integers(0, 240)).map(
        lambda a: _alarm(*a)
    ),
    min_size=1,
    max_size=12,
)
SWEEPS = st.lists(MINUTES.map(lambda m: T0 + timedelta(minutes=m)), min_size=1, max_size=8)
PROPS = hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_a_second_sweep_at_the_same_instant_records_nothing_the_first_did_not(empty_database, tmp_path):
    """The issue's case: an alarm closed (not acknowledged) after its limit, a few minutes ago."""
    history = History(empty_database, tmp_path)
    history.insert(1, NOW - timedelta(hours=2), NOW - timedelta(minutes=5), close=NOW - timedelta(minutes=5))
    history.insert(2, NOW - timedelta(hours=2), NOW - timedelta(hours=2))
    first = escalate(history.engine, NOW, LIMIT)
    assert sorted(c.alarm_id for c in first) == [1, 2]
    assert escalate(history.engine, NOW, LIMIT) == []
    assert history.records() == {1: NOW - timedelta(minutes=90), 2: NOW - timedelta(minutes=90)}


@PROPS
@given(alarm_list=ALARMS, sweeps=SWEEPS)
def test_the_same_records_however_often_and_in_whatever_order_of_instants_the_sweep_runs(
    empty_database, tmp_path_factory, alarm_list, sweeps
):
    """Every alarm stored first; sweeps at any instants, repeated, out of order: the records are
    those of one sweep at the latest instant."""
    history = History(empty_database, tmp_path_factory.getbasetemp())
    for n, (fired, _stored, ack, close) in enumerate(alarm_list, 1):
        history.insert(n, fired, max(t for t in (fired, ack, close) if t is not None), ack, close)
    for now in sweeps:
        escalate(history.engine, now, LIMIT)
    assert history.records() == expected(alarm_list, max(sweeps))
    history.engine.dispose()


@PROPS
@given(alarm_list=ALARMS, sweeps=SWEEPS)
def test_the_same_records_when_alarms_arrive_as_time_passes_between_sweeps(
    empty_database, tmp_path_factory, alarm_list, sweeps
):
    """Alarms stored as time passes (late ones long after they fired), acknowledged and closed
    at their instants, the sweep running at every instant of `sweeps`: the records are those
    of one sweep at the last instant over everything stored by then."""
    history = History(empty_database, tmp_path_factory.getbasetemp())
    happenings = []  # (instant, order at one instant, what)
    for n, (fired, stored, ack, close) in enumerate(alarm_list, 1):
        happenings.append((stored, 0, lambda n=n, a=(fired, stored, ack, close): history.insert(n, a[0], a[1], *a[2:])))
        for when, what in ((ack, history.acknowledge), (close, history.close)):
            if when is not None and when > stored:
                happenings.append((when, 1, lambda n=n, when=when, what=what: what(n, when)))
    happenings += [(now, 2, lambda now=now: escalate(history.engine, now, LIMIT)) for now in sweeps]
    for _when, _order, happen in sorted(happenings, key=lambda h: (h[0], h[1])):
        happen()
    assert history.records() == expected(alarm_list, max(sweeps), stored_by=True)
    history.engine.dispose()


def test_the_upgrade_forgets_the_mark_of_the_old_rule(tmp_path):
    """A database swept under the old rule (closed history skipped by the first sweep) is looked
    at whole once more, so that its records are those of a database swept from the start."""
    from app.base.database import make_engine, upgrade
    from app.base.tables import escalation_sweep

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(escalation_sweep.insert().values(name="alarms", fired_until=NOW, after_id=10, swept_at=NOW))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(escalation_sweep)).all() == []
    engine.dispose()
