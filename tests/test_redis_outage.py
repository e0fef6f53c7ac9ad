"""Must show (issue 10): Redis cut for a minute, and Redis hung for a minute, while the ingest
follows live traffic and a web server serves the board; the real Redis sits behind
tests/faultproxy.py for every process of the deployment.

Both run at once, each a whole deployment of its own (`supervise ingest` and `supervise
serve` as processes, an exchange database fed as time passes): the cut on PostgreSQL, the
hang on SQLite. Afterwards, for each:

* the supervision database equals a clean run's (`ingest --once`, no Redis fault, over the
  same exchange rows): escalations included, which is only true because their records are
  the same however often the sweep ran;
* the alarm stream holds every alarm change exactly once: one entry per audit-trail row
  (alarm_actions), the officer's action made during the outage included, with unique
  change ids, and the outbox is empty;
* the board answered throughout: a logged-in client polled it over HTTP every second, and
  every answer was a 200 with the board's rows; the degraded banner showed; /healthz
  reported the outbox backlog;
* the ingest logged the outage once when it began and once when it ended.

The hang's deployment then shows that an officer's action reaches the stream with only
the web servers running.

Time line of each (seconds after the ingest starts; its clock starts at START):
  0-FEED_UNTIL   a case every half second, completed with an overcharged fee: a fee alarm at once,
                 escalated ESCALATE_SECONDS later
  LEAD           00:00 local: the receipt clocks of COHORT cases run out (alarms with no new row)
  FAULT_AT       Redis cut / hung for FAULT_SECONDS; an officer acknowledges an alarm in the middle
  RUN_UNTIL      the ingest stops
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from sqlalchemy import select

from app.base.alarm_stream import read_after
from app.base.database import make_engine, open_database
from app.base.settings import Settings
from app.base.tables import alarm_actions, alarm_outbox, alarms, cases, events, quality_log
from tests.conftest import REDIS_URL
from tests.faultproxy import FaultProxy
from tests.ingest.exchange_builder import CST, Exchange
from tests.redis_claim import claimed_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LEAD = 15
START = datetime(2026, 11, 24, 0, 0, tzinfo=CST) - timedelta(seconds=LEAD)  # a Tuesday, 00:00 local
COHORT = 40  # received Mon 11-16, never answered: receipt_unprocessed at 00:00 on 11-24
FAULT_AT, FAULT_SECONDS = 10, 60
FEED_UNTIL = FAULT_AT + FAULT_SECONDS + 5
ESCALATE_SECONDS = 15
RUN_UNTIL = FEED_UNTIL + ESCALATE_SECONDS + 15
CLEAN_AT = START + timedelta(hours=1)  # after every escalation, before anything else falls due
PASSWORD = "correct horse 1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    return env | {"PYTHONPATH": str(ROOT), "SUPERVISE_ESCALATE_MINUTES": str(ESCALATE_SECONDS / 60)} | values


def _supervise(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, **kwargs)


def _run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Poll:
    at: float  # seconds into the run
    status: int
    rows: int  # board rows in the answer
    seconds: float


@dataclass
class Deployment:
    """One deployment: exchange, supervision database, Redis behind a proxy, ingest and web processes."""

    fault: str
    db_url: str
    redis_url: str  # straight to Redis, for the checks
    tmp: Path
    polls: list[Poll] = field(default_factory=list)
    health: list[tuple[float, dict]] = field(default_factory=list)
    banners: list[tuple[float, str]] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def __post_init__(self):
        self.var = self.tmp / "var"
        self.var.mkdir(parents=True)
        self.exchange_url = f"sqlite:///{self.tmp / 'exchange.db'}"
        self.exchange = Exchange(self.exchange_url)
        for n in range(COHORT):
            self.exchange.event(f"COHORT-{n:03d}", "received", "2026-11-16 10:00", item_code="ITEM-W")
        self.proxy = FaultProxy("127.0.0.1", 6379).start()
        number = self.redis_url.rsplit("/", 1)[1]
        self.env = _env(
            SUPERVISE_EXCHANGE_URL=self.exchange_url,
            SUPERVISE_DB_URL=self.db_url,
            SUPERVISE_VAR_DIR=str(self.var),
            SUPERVISE_REDIS_URL=f"redis://127.0.0.1:{self.proxy.port}/{number}",
        )
        from app.users import add_user

        engine = open_database(Settings(var_dir=self.var, db_url=self.db_url, exchange_url=self.exchange_url))
        add_user(engine, "officer", PASSWORD, "region", "GX-450000", datetime.now(UTC))
        self.db = engine
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ingest_log = self.tmp / "ingest.log"

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.failures.append(exc)

    def _run(self) -> None:
        web = _supervise(
            self.env,
            "serve",
            "--port",
            str(self.port),
            "--workers",
            "2",
            "--threads",
            "4",
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "web.log", "w"),
        )
        try:
            _wait(lambda: requests.get(self.base + "/healthz", timeout=5).status_code == 200, 90, "the web server")
            ingest = _supervise(
                self.env,
                "ingest",
                "--now",
                START.isoformat(),
                stdout=subprocess.DEVNULL,
                stderr=open(self.ingest_log, "w"),
            )
            self.t0 = time.monotonic()
            stop = threading.Event()
            threads = [
                threading.Thread(target=self._feed, args=(stop,), name=f"{self.fault}.feed"),
                threading.Thread(target=self._poll, args=(stop,), name=f"{self.fault}.poll"),
            ]
            try:
                for thread in threads:
                    thread.start()
                self._sleep_until(FAULT_AT)
                getattr(self.proxy, self.fault)()
                self._sleep_until(FAULT_AT + FAULT_SECONDS / 2)
                self.acked.append(self._acknowledge())
                self._sleep_until(FAULT_AT + FAULT_SECONDS)
                self.proxy.heal()
                self._sleep_until(RUN_UNTIL)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(60)
                _stop(ingest)
            if self.fault == "hang":
                self._act_with_only_the_web_up()
        finally:
            _stop(web)
            self.proxy.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _sleep_until(self, second: float) -> None:
        time.sleep(max(second - self.elapsed(), 0))

    def _feed(self, stop: threading.Event) -> None:
        """New cases as an upstream system writes them: received and completed, overcharged."""
        n = 0
        while not stop.wait(0.5) and self.elapsed() < FEED_UNTIL:
            # A little in the past of the ingest's clock, which started a moment after ours.
            at = START + timedelta(seconds=self.elapsed() - 5)
            self.exchange.event(f"LIVE-{n:04d}", "received", at, item_code="ITEM-FEE", recorded=at)
            self.exchange.event(
                f"LIVE-{n:04d}",
                "completed",
                at + timedelta(seconds=1),
                {"result": "approved", "fee_charged": 150},
                recorded=at + timedelta(seconds=1),
            )
            n += 1

    def _poll(self, stop: threading.Event) -> None:
        """A control room: the board each second over HTTP, /healthz and the banner now and then."""
        session = _log_in(self.base)
        _wait(lambda: self._alarm_count() > 0, 30, "a first alarm")  # from then on the board is never empty
        while not stop.wait(1.0):
            started = time.monotonic()
            response = session.post(self.base + "/_dash-update-component", json=_board_call(), timeout=60)
            rows = 0
            if response.status_code == 200:
                ops = json.loads(response.json()["response"]["control-room-ops"]["data"]["json"])
                rows = len(ops["inserts"])
            self.polls.append(Poll(self.elapsed(), response.status_code, rows, time.monotonic() - started))
            if len(self.polls) % 3 == 0:
                self.health.append((self.elapsed(), requests.get(self.base + "/healthz", timeout=60).json()))
                banner = session.post(self.base + "/_dash-update-component", json=_banner_call(), timeout=60)
                self.banners.append((self.elapsed(), banner.text if banner.status_code == 200 else ""))

    def _alarm_count(self) -> int:
        with self.db.connect() as conn:
            return len(conn.execute(select(alarms.c.id).limit(1)).all())

    def _acknowledge(self) -> int:
        """An officer acknowledges an open alarm from the command line while Redis is down."""
        with self.db.connect() as conn:
            alarm_id = conn.execute(
                select(alarms.c.id)
                .where(alarms.c.state == "open", alarms.c.kind == "fee_violation")
                .order_by(alarms.c.id)
                .limit(1)
            ).scalar_one()
        done = _run(self.env, "alarm", "ack", str(alarm_id), "--by", "王督查", "--note", "已电话核实")
        assert done.returncode == 0, done.stderr
        assert "waits in the outbox" in done.stderr  # it could not be published now, and says so
        return alarm_id

    def _act_with_only_the_web_up(self) -> None:
        """No ingest runs: an action made while Redis is cut reaches the stream by the web's relays."""
        with self.db.connect() as conn:
            alarm_id = conn.execute(
                select(alarms.c.id)
                .where(alarms.c.state == "open", alarms.c.kind == "fee_violation")
                .order_by(alarms.c.id)
                .limit(1)
            ).scalar_one()
        self.proxy.cut()
        done = _run(self.env, "alarm", "close", str(alarm_id), "--by", "王督查", "--note", "已退还多收费用")
        assert done.returncode == 0 and "waits in the outbox" in done.stderr, done.stderr
        self.proxy.heal()
        direct = redis_lib.Redis.from_url(self.redis_url)

        def on_stream():
            return any(c.alarm_id == alarm_id and c.action == "close" for c in _stream(direct))

        _wait(on_stream, 30, "the close action on the stream")
        self.acked.append(alarm_id)


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (requests.RequestException, redis_lib.RedisError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come within {seconds} s")


def _log_in(base: str) -> requests.Session:
    session = requests.Session()
    form = session.get(base + "/login", timeout=30).text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    response = session.post(
        base + "/login",
        data=hidden | {"name": "officer", "password": PASSWORD, "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code in (302, 303), response.text
    assert session.get(base + "/", timeout=30).status_code == 200  # hands out the CSRF cookie, as a browser opens it
    session.headers["X-CSRFToken"] = session.cookies["_csrf_token"]  # as Dash's renderer sends it back
    return session


def _dash_call(outputs, inputs, state=()) -> dict:
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        if len(outputs) > 1
        else f"{outputs[0][0]}.{outputs[0][1]}",
        "outputs": [{"id": i, "property": p} for i, p in outputs]
        if len(outputs) > 1
        else {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }


def _board_call() -> dict:
    """The board's poll as a screen that has just opened it: the whole board comes back."""
    return _dash_call(
        [
            ("control-room-ops", "data"),
            ("control-room-shown", "data"),
            ("control-room-position", "data"),
            ("control-room-counts", "children"),
            ("control-room-new-red", "data"),
        ],
        [
            ("control-room-poll", "n_intervals", 1),
            ("control-room-filter-center", "value", None),
            ("control-room-filter-dept", "value", None),
            ("control-room-filter-kind", "value", None),
            ("control-room-filter-level", "value", None),
        ],
        [("control-room-shown", "data", None), ("control-room-position", "data", None)],
    )


def _banner_call() -> dict:
    return _dash_call([("shell-banner", "children")], [("shell-banner-poll", "n_intervals", 1)])


def _stream(client) -> list:
    _, changes = read_after(client, "0-0", count=1_000_000)
    return changes


# --- comparisons ------------------------------------------------------------------------------------


def _plain(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    return value


def _alarm_key(conn) -> dict[int, tuple]:
    return {
        r.id: (r.kind, r.case_no, r.subject)
        for r in conn.execute(select(alarms.c.id, alarms.c.kind, alarms.c.case_no, alarms.c.subject))
    }


def contents(engine, officers_acted_on: set = frozenset()) -> dict[str, list]:
    """What the ingest made, without the instants it happened to make it at (judged_at,
    updated_at) or the ids its inserts happened to get. Officers' actions, and the state of
    the alarms they acted on (`officers_acted_on`, by kind, case and subject), are left out."""
    with engine.connect() as conn:
        keys = _alarm_key(conn)
        case_rows = sorted(
            tuple(_plain(v) for k, v in row._mapping.items() if k != "judged_at") for row in conn.execute(select(cases))
        )
        alarm_rows = sorted(
            (*keys[row.id], row.level, _plain(row.fired_at), _plain(row.due))
            + (() if keys[row.id] in officers_acted_on else (row.state, row.closed_reason, _plain(row.closed_at)))
            for row in conn.execute(select(alarms))
        )
        actions = sorted(
            (*keys[row.alarm_id], row.action, row.actor, _plain(row.at))
            for row in conn.execute(select(alarm_actions))
            if row.actor == "system"
        )
        event_rows = sorted(
            (row.event_id, row.case_no, row.kind, _plain(row.occurred_at)) for row in conn.execute(select(events))
        )
        quality = sorted((row.event_id, row.reason) for row in conn.execute(select(quality_log)))
    return {"cases": case_rows, "alarms": alarm_rows, "actions": actions, "events": event_rows, "quality": quality}


def clean_run(deployment: Deployment, officers_acted_on: set) -> dict[str, list]:
    url = f"sqlite:///{deployment.tmp / 'clean.db'}"
    env = _env(
        SUPERVISE_EXCHANGE_URL=deployment.exchange_url, SUPERVISE_DB_URL=url, SUPERVISE_VAR_DIR=str(deployment.var)
    )
    done = _run(env, "ingest", "--once", "--now", CLEAN_AT.isoformat())
    assert done.returncode == 0, done.stderr
    return contents(make_engine(url), officers_acted_on)


# --- the test ---------------------------------------------------------------------------------------


@pytest.fixture
def second_redis_url(redis_url):
    with claimed_database(REDIS_URL, hold_seconds=900) as url:
        if url is None:
            pytest.fail("no second free Redis database number (1–15) to test in")
        yield url


def test_a_minute_of_redis_cut_or_hung_loses_nothing_and_the_board_answers(
    tmp_path, pg_url, redis_url, second_redis_url
):
    deployments = [
        Deployment("cut", pg_url, redis_url, tmp_path / "cut"),
        Deployment("hang", f"sqlite:///{tmp_path / 'hang' / 'supervise.db'}", second_redis_url, tmp_path / "hang"),
    ]
    runs = [threading.Thread(target=d.run, name=f"outage.{d.fault}") for d in deployments]
    for run in runs:
        run.start()
    for run in runs:
        run.join(RUN_UNTIL + 300)
    for d in deployments:
        assert not d.failures, f"{d.fault}: {d.failures[0]!r}"
        check(d)


def check(d: Deployment) -> None:
    during = [p for p in d.polls if FAULT_AT + 1 <= p.at <= FAULT_AT + FAULT_SECONDS]
    # The board answered throughout, from the database: a 200 with its rows, every time.
    assert len(during) >= FAULT_SECONDS / 3, f"{d.fault}: only {len(during)} polls during the fault"
    assert [(p.at, p.status) for p in d.polls if p.status != 200 or p.rows == 0] == [], d.fault
    # The degraded banner, and the outbox backlog on /healthz, while Redis was away; none after.
    assert any("Redis" in text for at, text in d.banners if FAULT_AT + 5 <= at <= FAULT_AT + FAULT_SECONDS), d.fault
    faulty = [h for at, h in d.health if FAULT_AT + 10 <= at <= FAULT_AT + FAULT_SECONDS]
    assert faulty and all(h["redis"] is False for h in faulty), (d.fault, faulty)
    assert max(h["outbox"]["backlog"] for h in faulty) > 20, (d.fault, faulty)
    assert d.health[-1][1]["outbox"]["backlog"] == 0, (d.fault, d.health[-1])

    # The stream holds every alarm change exactly once: one entry per audit-trail row.
    stream = _stream(redis_lib.Redis.from_url(d.redis_url))
    ids = [c.change_id for c in stream]
    assert len(ids) == len(set(ids)), f"{d.fault}: a change on the stream twice"
    with d.db.connect() as conn:
        keys = _alarm_key(conn)
        recorded = sorted(
            (row.alarm_id, row.action, row.actor, _plain(row.at)) for row in conn.execute(select(alarm_actions))
        )
        assert conn.execute(select(alarm_outbox.c.id).where(alarm_outbox.c.published_at.is_(None))).all() == []
    assert sorted((c.alarm_id, c.action, c.actor, _plain(c.at)) for c in stream) == recorded, d.fault
    assert len(stream) > 150, f"{d.fault}: only {len(stream)} changes: the outage saw too little traffic"
    made_during = [
        c
        for c in stream
        if START + timedelta(seconds=FAULT_AT + 2) <= c.at <= START + timedelta(seconds=FAULT_AT + FAULT_SECONDS - 10)
        and c.actor == "system"
    ]
    assert len(made_during) > 80, f"{d.fault}: only {len(made_during)} changes made during the outage"
    assert {a for a in d.acked} <= {c.alarm_id for c in stream if c.actor == "王督查"}
    for alarm_id in d.acked:
        assert keys[alarm_id][0] == "fee_violation"

    # The supervision database equals a clean run's over the same exchange rows.
    acted_on = {keys[alarm_id] for alarm_id in d.acked}
    assert contents(d.db, acted_on) == clean_run(d, acted_on), d.fault

    print(
        f"\n{d.fault}: {len(d.polls)} board polls ({len(during)} during the fault), all 200 with rows, slowest "
        f"{max(p.seconds for p in d.polls):.2f} s; {len(stream)} changes on the stream, {len(made_during)} made "
        f"during the fault; outbox backlog up to {max(h['outbox']['backlog'] for h in faulty)}"
    )
    # One line when the outage began and one when it ended; never one per try.
    log = (d.tmp / "ingest.log").read_text()
    assert log.count("is unreachable") == 1 and log.count("reachable again") == 1, log[-3000:]
    assert "cannot read camera outages" not in log and "Traceback" not in log, log[-3000:]
