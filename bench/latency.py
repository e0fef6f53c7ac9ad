"""Benchmark: how soon an alarm change reaches Redis, while following PostgreSQL.

1. Commit to publication. The simulator writes live region traffic into the
   exchange database (``supervise simulate --live --speed 60 --scale 2.2``: an
   hour a minute, about 200 events/s; the ingest's clock runs as fast), and probes are committed among it: each probe is a case received
   and completed with a fee above its item's standard, so its judgement fires
   alarms at once. The delay of each probe is from its COMMIT returning to the
   alarm change's entry in the Redis stream ``supervise:alarms`` (the entry id
   is Redis's own clock: the same machine's). Goal: p99 <= 1 s.

2. Clock alarms with 1 million open cases. The cases table is filled with a
   million open cases (and their events) whose next change lies in the coming
   weeks, plus a cohort whose receipt clock runs out at a local midnight T: at
   T their ``receipt_unprocessed`` alarms fire with no new event, found by the
   due index (``cases.next_change``). The delay of each is from T (on the
   ingest's clock, anchored to the wall clock) to its entry in the stream.
   Goal: <= 1 s.

The ingest runs as its own process, as ``supervise ingest`` follows (leader
lock, the same loop), with its clock anchored to a known wall instant so the
delays can be measured; it publishes to a Redis database number claimed the
way the tests claim one.

    .venv/bin/python bench/latency.py                          # both parts
    .venv/bin/python bench/latency.py --part commit --seconds 60
    .venv/bin/python bench/latency.py --part clock --open-cases 1000000 --cohort 10000

PostgreSQL from BENCH_PG_URL (default: the local server, user postgres),
Redis from BENCH_REDIS_URL (default: the local server).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # bench/ingest.py must not shadow the ingest package

import psycopg
import redis
from sqlalchemy.engine import make_url

from tests.redis_claim import claimed_database

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
STREAM = "supervise:alarms"
ZONE = ZoneInfo("Asia/Shanghai")
OFFICE_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)  # a Monday morning: traffic at its height
# Part 2: received Mon 2026-11-16 and never answered; receipt clock: 17, 18, 19, 20, 23 -> due
# Mon 11-23, so receipt_unprocessed fires at 00:00 on Tue 11-24.
COHORT_RECEIVED = datetime(2026, 11, 16, 10, 0, tzinfo=ZONE)
FIRE_AT = datetime(2026, 11, 24, 0, 0, tzinfo=ZONE)
LEAD_SECONDS = 20.0  # the ingest starts this long (on its clock) before FIRE_AT


def _url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(sql)


def _fresh(name: str, template: str | None = None) -> str:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return _url(name)


def _drop(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
    return env | {"PYTHONPATH": str(ROOT)} | extra


def _supervise(env: dict[str, str], *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, **kwargs)


@contextmanager
def claimed_redis():
    """A Redis database number held alone (the tests' lock keys in database 0), flushed after."""
    with claimed_database(REDIS_URL, hold_seconds=3600, order=range(15, 0, -1)) as url:
        if url is None:
            raise SystemExit("no free Redis database number (1-15)")
        yield url


class Stream(threading.Thread):
    """Reads the alarm stream from where it stands now; keeps (entry wall seconds, message)."""

    def __init__(self, url: str):
        super().__init__(name="bench.stream", daemon=True)
        self.redis = redis.Redis.from_url(url, socket_timeout=10)
        last = self.redis.xrevrange(STREAM, count=1)
        self.position = last[0][0] if last else b"0-0"
        self.entries: list[tuple[float, dict]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for _stream, entries in self.redis.xread({STREAM: self.position}, count=5000, block=200) or []:
                for entry_id, fields in entries:
                    self.position = entry_id
                    millis = int(entry_id.split(b"-")[0])
                    self.entries.append((millis / 1000, json.loads(fields[b"json"])))

    def first_by_case(self) -> dict[str, float]:
        first: dict[str, float] = {}
        for at, message in self.entries:
            first.setdefault(message["case_no"], at)
        return first


def _reference_exchange() -> str:
    """An exchange database holding only the region's reference data (kept between runs)."""
    name = "bench_latency_x_ref"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not exists:
        url = _fresh(name)
        _supervise(_env({}), "simulate", "--exchange-url", url, "--quiet", stdout=subprocess.DEVNULL).wait()
    return _url(name)


def _start_ingest(
    exchange_url: str, db_url: str, redis_url: str, var: str, now: datetime, speed: float = 1.0
) -> tuple[subprocess.Popen, float]:
    """The ingest following, its clock reading `now` at the returned wall instant and running `speed` times as fast."""
    env = _env(
        {
            "SUPERVISE_EXCHANGE_URL": exchange_url,
            "SUPERVISE_DB_URL": db_url,
            "SUPERVISE_REDIS_URL": redis_url,
            "SUPERVISE_VAR_DIR": var,
        }
    )
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    anchor = time.time() + 5.0  # after its start-up: the clock must not jump while it runs
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__)),
            "--role",
            "ingest",
            "--anchor",
            str(anchor),
            "--now",
            now.isoformat(),
            "--ingest-speed",
            str(speed),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready", "the ingest did not start"
    return proc, anchor


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _percentiles(delays: list[float]) -> str:
    if not delays:
        return "no samples"
    ordered = sorted(delays)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return (
        f"n={len(ordered)} min={ordered[0] * 1000:.0f} ms p50={statistics.median(ordered) * 1000:.0f} ms "
        f"p99={p(0.99) * 1000:.0f} ms max={ordered[-1] * 1000:.0f} ms"
    )


# --- part 1: commit to publication ----------------------------------------
def part_commit(redis_url: str, seconds: float, scale: float, speed: float, probes_per_second: float) -> None:
    print(
        f"part 1: live traffic (scale {scale}, speed {speed:g}) with {probes_per_second:g} probes/s for {seconds:g} s"
    )
    reference = _reference_exchange()
    name = f"bench_latency_x_{os.getpid()}"
    exchange_url = _fresh(name, template=reference.rsplit("/", 1)[-1])
    db_name = f"bench_latency_sv_{os.getpid()}"
    db_url = _fresh(db_name)
    with psycopg.connect(_libpq(exchange_url)) as conn:
        item, fee = conn.execute(
            "SELECT item_code, fee_yuan FROM items WHERE day_unit = 'working' ORDER BY item_code LIMIT 1"
        ).fetchone()
    stream = Stream(redis_url)
    stream.start()
    with tempfile.TemporaryDirectory() as var:
        ingest, anchor = _start_ingest(exchange_url, db_url, redis_url, var, OFFICE_HOURS, speed)
        simulator = _supervise(
            _env({"SUPERVISE_VAR_DIR": var}),
            "simulate",
            "--exchange-url",
            exchange_url,
            "--live",
            "--now",
            OFFICE_HOURS.isoformat(),
            "--scale",
            str(scale),
            "--speed",
            str(speed),
            "--quiet",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        committed: dict[str, float] = {}
        rng = random.Random(1)
        try:
            with psycopg.connect(_libpq(exchange_url)) as conn:
                started = time.time()
                while time.time() - started < seconds:
                    time.sleep(rng.expovariate(probes_per_second))
                    case_no = f"PROBE-{len(committed):06d}"
                    # just before the ingest's now
                    at = OFFICE_HOURS + timedelta(seconds=(time.time() - anchor) * speed - 1)
                    _probe(conn, case_no, item, fee, at)
                    committed[case_no] = time.time()
            time.sleep(3)  # the last probes' alarms
        finally:
            simulator.send_signal(signal.SIGINT)
            simulator.wait()
            _stop(ingest)
            stream.stop.set()
            stream.join()
    with psycopg.connect(_libpq(exchange_url)) as conn:
        rows = conn.execute("SELECT count(*) FROM case_events WHERE case_no NOT LIKE 'PROBE-%%'").fetchone()[0]
    _drop(name)
    _drop(db_name)
    published = stream.first_by_case()
    delays = [published[c] - t for c, t in committed.items() if c in published]
    print(
        f"  traffic: {rows:,} simulated events in {seconds:.0f} s = {rows / seconds:,.0f} events/s, "
        f"{len(stream.entries):,} alarm changes published"
    )
    print(
        f"  commit -> Redis: {_percentiles(delays)}; {len(committed) - len(delays)} probes unpublished "
        f"(goal p99 <= 1000 ms)"
    )


def _probe(conn: psycopg.Connection, case_no: str, item: str, fee, at: datetime) -> None:
    rows = [
        ("received", json.dumps({"channel": "window"}), item),
        ("completed", json.dumps({"result": "approved", "fee_charged": float(fee) + 100}), None),
    ]
    for kind, payload, item_code in rows:
        conn.execute(
            "INSERT INTO case_events (case_no, kind, occurred_at, recorded_at, source_system, center_id, item_code, "
            "payload) VALUES (%s, %s, %s, %s, 'BENCH', 'GX-450100', %s, %s)",
            (case_no, kind, at, at, item_code, payload),
        )
    conn.commit()


# --- part 2: clock alarms among a million open cases -----------------------
def part_clock(redis_url: str, open_cases: int, cohort: int) -> None:
    print(f"part 2: {open_cases:,} open cases, {cohort:,} of them due at {FIRE_AT.isoformat()}")
    exchange_url = _reference_exchange()
    db_name = f"bench_latency_sv_{os.getpid()}"
    db_url = _fresh(db_name)
    with tempfile.TemporaryDirectory() as var:
        env = _env({"SUPERVISE_EXCHANGE_URL": exchange_url, "SUPERVISE_DB_URL": db_url, "SUPERVISE_VAR_DIR": var})
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.perf_counter()
        cohort_cases = _synthesize(exchange_url, db_url, open_cases, cohort)
        print(f"  synthesized in {time.perf_counter() - started:.0f} s")
        stream = Stream(redis_url)
        stream.start()
        ingest, anchor = _start_ingest(exchange_url, db_url, redis_url, var, FIRE_AT - timedelta(seconds=LEAD_SECONDS))
        fire_wall = anchor + LEAD_SECONDS
        try:
            deadline = fire_wall + 120
            while time.time() < deadline and len(set(stream.first_by_case()) & cohort_cases) < len(cohort_cases):
                time.sleep(0.2)
            time.sleep(0.5)
        finally:
            _stop(ingest)
            stream.stop.set()
            stream.join()
    _drop(db_name)
    published = stream.first_by_case()
    delays = [published[c] - fire_wall for c in cohort_cases if c in published]
    early = [d for d in delays if d < 0]
    print(
        f"  fire instant -> Redis: {_percentiles(delays)}; {len(cohort_cases) - len(delays)} cases unpublished, "
        f"{len(early)} before the instant (goal <= 1000 ms)"
    )


def _synthesize(exchange_url: str, db_url: str, open_cases: int, cohort: int) -> set[str]:
    """Open cases and their events straight into the tables; returns the cohort's case numbers."""
    with psycopg.connect(_libpq(exchange_url)) as conn:
        items = conn.execute(
            "SELECT item_code, dept_id, promised_days FROM items WHERE day_unit = 'working' AND promised_days >= 10"
        ).fetchall()
    rng = random.Random(7)
    utc = UTC
    quiet_received = datetime(2026, 11, 20, 10, 0, tzinfo=ZONE)  # accepted the same day: nothing due for days
    cohort_numbers = set()
    with psycopg.connect(_libpq(db_url)) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        with cur.copy(
            "COPY cases (case_no, item_code, center_id, dept_id, status, received_at, start_date, "
            "deemed_accepted, paused_days, extension_days, corrections, next_change, clocks, judged_at) "
            "FROM STDIN"
        ) as copy:
            for n in range(open_cases):
                item, dept, _days = items[n % len(items)]
                case_no = f"SYN-{n:07d}"
                if n < cohort:
                    cohort_numbers.add(case_no)
                    row = (
                        case_no,
                        item,
                        "GX-450100",
                        dept,
                        "received",
                        COHORT_RECEIVED,
                        None,
                        False,
                        0,
                        0,
                        0,
                        FIRE_AT,
                        "[]",
                        COHORT_RECEIVED,
                    )
                else:
                    later = FIRE_AT + timedelta(days=rng.randint(1, 30))
                    row = (
                        case_no,
                        item,
                        "GX-450100",
                        dept,
                        "accepted",
                        quiet_received,
                        quiet_received.date(),
                        False,
                        0,
                        0,
                        0,
                        later,
                        "[]",
                        quiet_received,
                    )
                copy.write_row(row)
        with cur.copy(
            "COPY events (event_id, case_no, kind, occurred_at, recorded_at, center_id, dept_id, item_code, "
            "payload, dup_key, held) FROM STDIN"
        ) as copy:
            event_id = 0
            for n in range(open_cases):
                item, dept, _days = items[n % len(items)]
                case_no = f"SYN-{n:07d}"
                at = COHORT_RECEIVED if n < cohort else quiet_received
                kinds = ("received",) if n < cohort else ("received", "accepted")
                for kind in kinds:
                    event_id += 1
                    copy.write_row(
                        (
                            event_id,
                            case_no,
                            kind,
                            at.astimezone(utc),
                            at.astimezone(utc),
                            "GX-450100",
                            dept,
                            item if kind == "received" else None,
                            "{}",
                            f"{case_no}:{kind}",
                            False,
                        )
                    )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE cases")
        conn.execute("VACUUM ANALYZE events")
    return cohort_numbers


# --- the ingest, with a clock anchored to the wall --------------------------
def role_ingest(anchor: float, now: datetime, speed: float) -> None:
    """`supervise ingest` following, whose clock reads `now` at wall instant `anchor` and runs `speed` times as fast."""
    from app.base.settings import load
    from ingest.leader import Leadership
    from ingest.runner import build

    ingest = build(load())
    leadership = Leadership(ingest.db)
    while not leadership.try_acquire():
        time.sleep(0.5)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ingest.load_items()
    time.sleep(max(anchor - time.time(), 0))
    print("ready", flush=True)
    try:
        ingest.follow(
            lambda: now + timedelta(seconds=(time.time() - anchor) * speed), stop, still_leader=leadership.held
        )
    finally:
        leadership.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["commit", "clock", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60, help="part 1: how long the traffic runs")
    parser.add_argument("--scale", type=float, default=2.2, help="part 1: simulator scale")
    parser.add_argument(
        "--speed", type=float, default=60, help="part 1: simulated seconds per second (2.2 x 60 ≈ 200 events/s)"
    )
    parser.add_argument("--probes", type=float, default=5, help="part 1: probes per second")
    parser.add_argument("--open-cases", type=int, default=1_000_000, help="part 2: open cases in the table")
    parser.add_argument("--cohort", type=int, default=10_000, help="part 2: cases whose clock runs out at T")
    parser.add_argument("--role", choices=["ingest"], help=argparse.SUPPRESS)
    parser.add_argument("--anchor", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--ingest-speed", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "ingest":
        role_ingest(args.anchor, datetime.fromisoformat(args.now), args.ingest_speed)
        return
    with claimed_redis() as redis_url:
        if args.part in ("commit", "both"):
            part_commit(redis_url, args.seconds, args.scale, args.speed, args.probes)
        if args.part in ("clock", "both"):
            part_clock(redis_url, args.open_cases, args.cohort)


if __name__ == "__main__":
    main()
