"""Must show (issue 10): a database outage ends nothing, neither the active ingest nor its hot
standby; the web answers it with 503.

Two deployments run at once, each an active `supervise ingest` and a hot standby (processes,
following an exchange database fed as time passes):

* PostgreSQL, the supervision database behind tests/faultproxy.py for every process: cut for
  CUT_SECONDS (every link reset, new ones too), healed, then hung for HANG_SECONDS (links
  accepted, not one byte moves), healed. A web server polled for the board throughout.
* SQLite, the supervision database on a small tmpfs of its own: the disk full for
  CUT_SECONDS (a filler file takes the last byte), then freed.

Afterwards, for each:

* no process exited; each outage gave its processes one line when it began and one when it
  ended, and no traceback;
* the supervision database equals a clean run's (`ingest --once`, no fault, over the same
  exchange rows);
* the alarm stream holds every alarm change exactly once: one entry per audit-trail row, unique
  change ids, the outbox empty;
* the board answered 503 during the cut (never 500) and 200 after.

Time line (seconds after the active ingest said it is active; its clock reads START then, and
the standby's the same):
  0-FEED_UNTIL   a case every half second, completed with an overcharged fee: a fee alarm at once,
                 escalated ESCALATE_SECONDS later
  LEAD           00:00 local: the receipt clocks of COHORT cases run out (alarms with no new row)
  CUT_AT         PostgreSQL cut, SQLite disk full, for CUT_SECONDS
  HANG_AT        PostgreSQL hung for HANG_SECONDS
  RUN_UNTIL      the feed has stopped and its last escalation fell due; then, once the deployment
                 has settled (every row taken in, the escalation sweep past every alarm, the outbox
                 empty), the processes stop
On a loaded machine the standby may come up late: the faults then wait for it, all of them moved
by the same amount, and so do FEED_UNTIL and RUN_UNTIL.

TEST_DB_CUT_SECONDS and TEST_DB_HANG_SECONDS lengthen the faults (the issue's own outage was
60 s); the defaults keep the test near two minutes.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from sqlalchemy import func, select, text

from app.base.database import make_engine, open_database
from app.base.settings import Settings
from app.base.tables import alarm_actions, alarm_outbox, alarms, escalation_sweep, events
from tests.conftest import REDIS_URL
from tests.faultproxy import FaultProxy
from tests.ingest.exchange_builder import CST, Exchange
from tests.redis_claim import claimed_database
from tests.test_redis_outage import (
    ESCALATE_SECONDS,
    PASSWORD,
    _board_call,
    _env,
    _free_port,
    _log_in,
    _plain,
    _stop,
    _stream,
    _supervise,
    _wait,
    contents,
)

# Each step waits for what it needs, not a fixed time: on a loaded machine a process can take a
# minute to start, so the whole may take many more than its usual three minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

LEAD = 15
START = datetime(2026, 11, 24, 0, 0, tzinfo=CST) - timedelta(seconds=LEAD)  # a Tuesday, 00:00 local
COHORT = 40  # received Mon 11-16, never answered: receipt_unprocessed at 00:00 on 11-24
CUT_AT = 10
CUT_SECONDS = float(os.environ.get("TEST_DB_CUT_SECONDS", 30))
HANG_AT = CUT_AT + CUT_SECONDS + 10
HANG_SECONDS = float(os.environ.get("TEST_DB_HANG_SECONDS", 20))  # more than a silent link is allowed (below)
FEED_UNTIL = HANG_AT + HANG_SECONDS + 5
RUN_UNTIL = FEED_UNTIL + ESCALATE_SECONDS + 10
SETTLE_SECONDS = 300  # the longest a deployment may take to settle after RUN_UNTIL
CLEAN_AT = START + timedelta(hours=1)  # after every escalation, before anything else falls due
# A link silent for the statement timeout + 5 s is taken for hung (app.link_watch): 10 s here.
LIMITS = {"SUPERVISE_DB_STATEMENT_TIMEOUT": "5", "SUPERVISE_DB_CONNECT_TIMEOUT": "3"}
DOWN, BACK = "database", ("is unavailable", "is back after")
TMPFS_BYTES = 64 * 1024 * 1024


@dataclass
class Fault:
    name: str
    at: float  # seconds into the run
    seconds: float
    begin: object  # () -> None
    end: object  # () -> None
    healed_at: datetime | None = None  # wall clock, local, as the processes' log lines


@dataclass
class Deployment:
    """An exchange fed as time passes, a supervision database, two ingests and maybe a web server."""

    backend: str
    db_url: str  # straight to the database, for set-up and the checks
    redis_url: str
    tmp: Path
    process_db_url: str = ""  # what the processes are given (the proxy's address); db_url if empty
    with_web: bool = False
    faults: list[Fault] = field(default_factory=list)
    polls: list[tuple[float, int, str]] = field(default_factory=list)  # (at, status, body start)
    fed: list[float] = field(default_factory=list)  # instants cases were written to the exchange
    exited: dict[str, int | None] = field(default_factory=dict)  # ingest -> its exit code before we stopped it
    late: float = 0.0  # seconds the faults, the feed and the stop were moved for a standby that came up late
    failures: list[BaseException] = field(default_factory=list)

    def __post_init__(self):
        self.var = self.tmp / "var"
        self.var.mkdir(parents=True)
        self.exchange_url = f"sqlite:///{self.tmp / 'exchange.db'}"
        self.exchange = Exchange(self.exchange_url)
        self.exchange_engine = make_engine(self.exchange_url, database="exchange")
        for n in range(COHORT):
            self.exchange.event(f"COHORT-{n:03d}", "received", "2026-11-16 10:00", item_code="ITEM-W")
        self.env = _env(
            SUPERVISE_EXCHANGE_URL=self.exchange_url,
            SUPERVISE_DB_URL=self.process_db_url or self.db_url,
            SUPERVISE_VAR_DIR=str(self.var),
            SUPERVISE_REDIS_URL=self.redis_url,
            **LIMITS,
        )
        from app.users import add_user

        self.db = open_database(Settings(var_dir=self.var, db_url=self.db_url, exchange_url=self.exchange_url))
        add_user(self.db, "officer", PASSWORD, "region", "GX-450000", datetime.now().astimezone())
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = {name: self.tmp / f"{name}.log" for name in ("active", "standby")}

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.failures.append(exc)

    def _run(self) -> None:
        web = None
        if self.with_web:
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
            if web:
                _wait(lambda: requests.get(self.base + "/healthz", timeout=5).status_code == 200, 180, "the web server")
                self.session = _log_in(self.base)  # before any fault: a login needs the database
            ingests = {}
            for name in ("active", "standby"):
                # One clock for both, as on one wall: the standby's starts where the active's is now.
                now = START + timedelta(seconds=self.elapsed()) if name == "standby" else START
                ingests[name] = _supervise(
                    self.env,
                    "ingest",
                    "--now",
                    now.isoformat(),
                    stdout=subprocess.DEVNULL,
                    stderr=open(self.logs[name], "w"),
                )
                if name == "active":
                    _wait(lambda: "now the active one" in self.logs["active"].read_text(), 120, "the active ingest")
                    self.t0 = time.monotonic()  # its clock started just before: it reads START now
            stop = threading.Event()
            threads = [threading.Thread(target=self._feed, args=(stop,), name=f"{self.backend}.feed")]
            if web:
                threads.append(threading.Thread(target=self._poll, args=(stop,), name=f"{self.backend}.poll"))
            try:
                for thread in threads:
                    thread.start()
                # Each process meets every fault: the first waits for the standby to come up.
                _wait(lambda: "standing by" in self.logs["standby"].read_text(), 120, "the standby ingest")
                self.late = max(self.elapsed() - self.faults[0].at + 1, 0)
                for fault in self.faults:
                    fault.at += self.late
                    self._sleep_until(fault.at)
                    fault.begin()
                    self._sleep_until(fault.at + fault.seconds)
                    fault.end()
                    fault.healed_at = datetime.now()
                self._sleep_until(RUN_UNTIL + self.late)
                _wait(
                    self.settled,
                    SETTLE_SECONDS,
                    f"{self.backend}: the end state (every row taken in, swept, published)",
                )
            finally:
                stop.set()
                for thread in threads:
                    thread.join(60)
                for name, process in ingests.items():
                    self.exited[name] = process.poll()
                    _stop(process)
        finally:
            if web:
                _stop(web)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _sleep_until(self, second: float) -> None:
        time.sleep(max(second - self.elapsed(), 0))

    def _feed(self, stop: threading.Event) -> None:
        """New cases as an upstream system writes them: received and completed, overcharged."""
        n = 0
        while not stop.wait(0.5) and self.elapsed() < FEED_UNTIL + self.late:
            at = START + timedelta(seconds=self.elapsed() - 5)  # a little in the past of the ingests' clock
            self.exchange.event(f"LIVE-{n:04d}", "received", at, item_code="ITEM-FEE", recorded=at)
            self.exchange.event(
                f"LIVE-{n:04d}",
                "completed",
                at + timedelta(seconds=1),
                {"result": "approved", "fee_charged": 150},
                recorded=at + timedelta(seconds=1),
            )
            self.fed.append(self.elapsed())
            n += 1

    def _poll(self, stop: threading.Event) -> None:
        """A control room asking for the board each second over HTTP."""
        session = self.session
        while not stop.wait(1.0):
            try:
                response = session.post(self.base + "/_dash-update-component", json=_board_call(), timeout=60)
                self.polls.append((self.elapsed(), response.status_code, response.text[:200]))
            except requests.RequestException as exc:
                self.polls.append((self.elapsed(), 0, repr(exc)))

    def events_taken_in(self) -> int:
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(events)).scalar_one()

    def settled(self) -> bool:
        """The end state a clean run is compared with: every exchange row taken in, the escalation
        sweep past every alarm (it looked at each once its limit had passed) and the outbox empty."""
        with self.exchange_engine.connect() as conn:
            written = conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()
        with self.db.connect() as conn:
            taken_in = conn.execute(select(func.count()).select_from(events)).scalar_one()
            newest = conn.execute(select(func.max(alarms.c.fired_at))).scalar()
            swept = conn.execute(select(escalation_sweep.c.fired_until)).scalar()
            waiting = conn.execute(select(func.count()).where(alarm_outbox.c.published_at.is_(None))).scalar_one()
        return taken_in == written and swept is not None and newest is not None and swept >= newest and waiting == 0


# --- the faults ---------------------------------------------------------------------------------------


class FullDisk:
    """A tmpfs of its own for the SQLite supervision database, which a filler file fills to the byte."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(folder)], capture_output=True, text=True
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs to fill (needs root): {mounted.stderr.strip()}")
        self.filler = folder / "filler"

    def fill(self) -> None:
        """Write until not one byte more goes in."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                chunk = b"\0" * size
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.folder)], check=False)


# --- the comparisons ------------------------------------------------------------------------------------


def clean_run(d: Deployment) -> dict[str, list]:
    url = f"sqlite:///{d.tmp / 'clean.db'}"
    env = _env(SUPERVISE_EXCHANGE_URL=d.exchange_url, SUPERVISE_DB_URL=url, SUPERVISE_VAR_DIR=str(d.var))
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", "--once", "--now", CLEAN_AT.isoformat()],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return contents(make_engine(url))


def _logged_at(line: str) -> datetime:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def check(d: Deployment) -> list[str]:
    """The assertions of the module's docstring; the lines of numbers for the report."""
    report = []
    # No process exited by itself; each outage is one line each way per process, no traceback.
    assert d.exited == {"active": None, "standby": None}, f"{d.backend}: an ingest exited: {d.exited}"
    for name, path in d.logs.items():
        log = path.read_text()
        assert "Traceback" not in log, f"{d.backend} {name}: {log[-3000:]}"
        down = [line for line in log.splitlines() if DOWN in line and BACK[0] in line]
        back = [line for line in log.splitlines() if DOWN in line and BACK[1] in line]
        # A standby on SQLite writes nothing, so a full disk is no outage to it: no line at all.
        outages = 0 if (name, d.backend) == ("standby", "sqlite") else len(d.faults)
        assert len(down) == outages and len(back) == outages, f"{d.backend} {name}:\n{log[-4000:]}"
        for fault, line in zip(d.faults, back):
            resumed = (_logged_at(line) - fault.healed_at).total_seconds()
            report.append(
                f"{d.backend} {name}: {fault.name} of {fault.seconds:.0f} s: back {resumed:.1f} s after healing"
            )
        for line in down:
            report.append(f"{d.backend} {name}: {line[24:]}")

    # The stream holds every alarm change exactly once: one entry per audit-trail row.
    stream = _stream(redis_lib.Redis.from_url(d.redis_url))
    ids = [c.change_id for c in stream]
    assert len(ids) == len(set(ids)), f"{d.backend}: a change on the stream twice"
    with d.db.connect() as conn:
        recorded = sorted((r.alarm_id, r.action, r.actor, _plain(r.at)) for r in conn.execute(select(alarm_actions)))
        assert conn.execute(select(alarm_outbox.c.id).where(alarm_outbox.c.published_at.is_(None))).all() == []
    assert sorted((c.alarm_id, c.action, c.actor, _plain(c.at)) for c in stream) == recorded, d.backend
    for fault in d.faults:
        began, ended = START + timedelta(seconds=fault.at), START + timedelta(seconds=fault.at + fault.seconds)
        made = [c for c in stream if began <= c.at <= ended]
        fed = [at for at in d.fed if fault.at <= at <= fault.at + fault.seconds]
        assert made, f"{d.backend}: no alarm change fell due during the {fault.name}"
        report.append(
            f"{d.backend}: during the {fault.name}: {len(fed)} cases ({2 * len(fed)} events) written "
            f"upstream, {len(made)} alarm changes due; each on the stream once"
        )
    report.append(
        f"{d.backend}: {len(stream)} changes on the stream, {len(set(ids))} distinct change ids, "
        f"{len(recorded)} audit-trail rows, outbox empty"
    )

    # The supervision database equals a clean run's over the same exchange rows.
    assert contents(d.db) == clean_run(d), d.backend
    return report


def check_web(d: Deployment) -> list[str]:
    cut = d.faults[0]
    during = [(at, status) for at, status, _ in d.polls if cut.at + 1 <= at <= cut.at + cut.seconds]
    after = [(at, status) for at, status, _ in d.polls if at >= d.faults[-1].at + d.faults[-1].seconds + 10]
    statuses = {status for _, status, _ in d.polls}
    assert statuses <= {200, 503}, [(at, s, body) for at, s, body in d.polls if s not in (200, 503)]
    assert any(status == 503 for _, status in during), during
    assert after and all(status == 200 for _, status in after), after
    log = (d.tmp / "web.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    counts = {s: sum(1 for _, status, _ in d.polls if status == s) for s in sorted(statuses)}
    return [
        f"web: {len(d.polls)} board polls {counts}; during the cut {sum(s == 503 for _, s in during)} of "
        f"{len(during)} answered 503; after healing all {len(after)} answered 200"
    ]


# --- the test ---------------------------------------------------------------------------------------


def test_a_database_cut_hang_or_full_disk_ends_no_ingest_and_loses_nothing(tmp_path, pg_url, redis_url):
    disk = FullDisk(tmp_path / "sqlite" / "disk")
    try:
        with FaultProxy("127.0.0.1", 5432) as proxy, claimed_database(REDIS_URL, hold_seconds=900) as second_redis:
            assert second_redis, "no second free Redis database number (1–15) to test in"
            proxied = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            postgres = Deployment(
                "postgresql",
                pg_url,
                redis_url,
                tmp_path / "postgresql",
                process_db_url=proxied,
                with_web=True,
                faults=[
                    Fault("cut", CUT_AT, CUT_SECONDS, proxy.cut, proxy.heal),
                    Fault("hang", HANG_AT, HANG_SECONDS, proxy.hang, proxy.heal),
                ],
            )
            sqlite = Deployment(
                "sqlite",
                f"sqlite:///{disk.folder / 'supervise.db'}",
                second_redis,
                tmp_path / "sqlite",
                faults=[Fault("full disk", CUT_AT, CUT_SECONDS, disk.fill, disk.free)],
            )
            runs = [threading.Thread(target=d.run, name=f"db-outage.{d.backend}") for d in (postgres, sqlite)]
            for run in runs:
                run.start()
            for run in runs:
                run.join(RUN_UNTIL + 300)
            report = []
            for d in (postgres, sqlite):
                assert not d.failures, f"{d.backend}: {d.failures[0]!r}"
                report += check(d)
            report += check_web(postgres)
            print("\n" + "\n".join(report))
    finally:
        disk.unmount()
