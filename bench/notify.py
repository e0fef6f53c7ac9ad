"""Benchmark: 10,000 alarms firing at one midnight reach the people responsible.

A region of 127 centers (1 region, 14 cities, 112 counties) with 30 departments each, a
window head (窗口负责人) per department and a supervisor (中心督查员) per center. 10,000 red
alarms fire at 2026-10-09 00:00 (a clock-run midnight: the four clock kinds, skewed towards
busy centers and departments), are written to the alarm outbox and relayed onto the stream, and the
notifier, on an injected clock, takes them in, groups them and delivers to local receivers:
the SMS file gateway (department and center contacts) and an Alertmanager webhook on a
local HTTP server. Under the default active time (working days 08:30–12:00, 14:30–17:30)
everything is held until 08:30, then sent.

Reports messages per alarm, the time from the fire instant to the last delivery on the
injected clock (held time included) and the processing time and CPU of each phase, beside
the baseline of the same run: relaying the same 10,000 changes onto the stream (the least
any follower pays). The notifier never reads cases, so the count of open cases does not
enter; PostgreSQL from BENCH_PG_URL (default: the local server), Redis from BENCH_REDIS_URL.

    .venv/bin/python bench/notify.py
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import psycopg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from app.base import outbox as alarm_outbox
from app.base.alarm_stream import AlarmChange
from app.base.database import make_engine, upgrade
from app.base.messaging import connect_url
from app.base.tables import contacts, notifications
from app.notify.notifier import Notifier
from app.notify.places import CenterTree
from app.notify.receivers import Sender
from app.sms.gateway import FileGateway
from rules.calendar import WorkCalendar
from rules.routing import parse_routes
from tests.notify.servers import start_robot
from tests.redis_claim import claimed_database

PG = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
CST = ZoneInfo("Asia/Shanghai")
ALARMS = 10_000
MIDNIGHT = datetime(2026, 10, 9, tzinfo=CST)

ROUTES = """
[[receivers]]
name = "responsible-sms"
type = "sms"
to = ["department", "center"]

[[receivers]]
name = "hook"
type = "webhook"
url = "{hook}/alerts"

[route]
group_by = ["center", "department", "kind"]

[[route.routes]]
match = { level = "alarm" }
receivers = ["responsible-sms", "hook"]
active_time = { days = "working", hours = ["08:30-12:00", "14:30-17:30"] }
"""


def region() -> CenterTree:
    tree = CenterTree(parent={"R": None}, names={"R": "自治区政务服务中心"})
    for c in range(14):
        city = f"C{c:02d}"
        tree.parent[city], tree.names[city] = "R", f"第{c}市政务服务中心"
        for k in range(8):
            county = f"{city}{k:02d}"
            tree.parent[county], tree.names[county] = city, f"第{c}市第{k}县政务服务中心"
    return tree


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    name = f"bench_notify_{uuid.uuid4().hex[:8]}"
    admin = make_url(PG).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    robot = start_robot()
    try:
        with claimed_database(REDIS, hold_seconds=1800) as redis_url:
            run(make_url(PG).set(database=name).render_as_string(hide_password=False), redis_url, robot)
    finally:
        robot.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, redis_url: str, robot) -> None:
    import tempfile

    engine = make_engine(url)
    upgrade(engine)
    redis = connect_url(redis_url)
    tree = region()
    centers = list(tree.parent)
    now = MIDNIGHT - timedelta(hours=1)
    people = []
    for center in centers:
        people.append({"name": f"督查{center}", "role": "中心督查员", "center_id": center, "dept_id": ""})
        for d in range(30):
            people.append(
                {"name": f"科长{center}{d}", "role": "窗口负责人", "center_id": center, "dept_id": f"{center}-D{d:02d}"}
            )
    for i, person in enumerate(people):
        person |= {"mobile": f"139{i:08d}", "created_at": now, "updated_at": now}
    with engine.begin() as conn:
        conn.execute(insert(contacts), people)

    rng = random.Random(12)
    # The clock kinds a midnight fires, the busy ones most; busy centers and departments most.
    clock_kinds = ["promise_overdue", "statutory_overdue", "receipt_unprocessed", "step_overdue"]
    kind_weights = [8, 4, 2, 1]
    places = centers[1:]
    place_weights = [1 / (i + 1) ** 0.5 for i in range(len(places))]
    changes = []
    for alarm_id in range(1, ALARMS + 1):
        center = rng.choices(places, place_weights)[0]
        dept = f"{center}-D{min(int(rng.expovariate(0.3)), 29):02d}"  # a few busy departments
        kind = rng.choices(clock_kinds, kind_weights)[0]
        changes.append(
            AlarmChange(
                alarm_id=alarm_id,
                action="fired",
                actor="system",
                kind=kind,
                level="alarm",
                state="open",
                case_no=f"2026{alarm_id:09d}",
                center_id=center,
                dept_id=dept,
                fired_at=MIDNIGHT,
                at=MIDNIGHT,
            )
        )

    with tempfile.TemporaryDirectory() as folder:
        gateway = FileGateway(Path(folder) / "sms.jsonl")
        notifier = Notifier(
            engine,
            redis,
            parse_routes(ROUTES.replace("{hook}", robot.url)),
            tree,
            lambda _c: WorkCalendar(),
            CST,
            Sender(gateway),
        )
        notifier.run_once(MIDNIGHT - timedelta(seconds=1))  # following from the stream's end

        with engine.begin() as conn:
            alarm_outbox.write(conn, changes)
        wall, cpu0 = time.perf_counter(), cpu()
        alarm_outbox.Relay(engine, redis).drain()
        relay = (time.perf_counter() - wall, cpu() - cpu0)

        wall, cpu0 = time.perf_counter(), cpu()
        taken = notifier.run_once(MIDNIGHT + timedelta(seconds=1))
        take = (time.perf_counter() - wall, cpu() - cpu0)
        held = notifier.run_once(MIDNIGHT + timedelta(minutes=1))  # group_wait over, but night: held

        wall, cpu0 = time.perf_counter(), cpu()
        morning = MIDNIGHT.replace(hour=8, minute=30)
        first = notifier.run_once(morning)
        while notifier.run_once(morning).sent:
            pass
        deliver = (time.perf_counter() - wall, cpu() - cpu0)

        with engine.connect() as conn:
            produced = conn.execute(select(func.count()).select_from(notifications)).scalar()
            delivered = conn.execute(select(func.count()).where(notifications.c.state == "sent")).scalar()
            last = conn.execute(select(func.max(notifications.c.sent_at))).scalar()
            groups = conn.execute(select(func.count(func.distinct(notifications.c.group_key)))).scalar()
        sms = len(gateway.lines())

    print(f"alarms fired at {MIDNIGHT.isoformat()}: {ALARMS:,}; {len(people):,} contacts in {len(centers)} centers")
    print(f"taken into groups: {taken.taken:,} changes; at 00:01 {held.flushed.held} groups due but held (night)")
    print(
        f"messages produced: {produced:,} ({groups:,} groups; {sms:,} SMS + {len(robot.requests):,} webhook posts), delivered {delivered:,}"
    )
    print(f"messages per alarm: {produced / ALARMS:.3f} (webhook posts per alarm {len(robot.requests) / ALARMS:.3f})")
    print(
        f"fire instant → last delivery (injected clock): {last.astimezone(CST) - MIDNIGHT} (held to 08:30, the active time)"
    )
    print(f"baseline, relaying the {ALARMS:,} changes onto the stream: {relay[0]:.2f} s wall, {relay[1]:.2f} s CPU")
    print(
        f"taking them into groups: {take[0]:.2f} s wall, {take[1]:.2f} s CPU ({take[0] / relay[0]:.2f}x the baseline)"
    )
    print(
        f"producing and delivering at 08:30: {deliver[0]:.2f} s wall, {deliver[1]:.2f} s CPU "
        f"({deliver[0] / relay[0]:.2f}x the baseline); first round {first}"
    )
    redis.close()
    engine.dispose()


if __name__ == "__main__":
    main()
