"""Benchmark: the monthly assessment of a whole region (≈ 4,000 departments, 127 centers).

Writes a month of a region's countable items straight into a fresh supervision database
(alarms of every kind and level, some retracted or revoked, orders, ratings), then:

1. scores the month from scratch (`months.compute` on a draft);
2. locks it, lets late data arrive (1 % more alarms of that month, and the next month's
   own), and scores the next month, which carries the late points;
3. recounts the locked month from scratch in a second database holding the same data,
   and checks that the carried points equal the difference: the incremental path (locked
   month + carried points) and the from-scratch path agree, unit by unit.

Reports seconds of each, with the baseline of the same machine in the same run: the
time of a plain `SELECT count(*) … GROUP BY` over the same alarms (the least any scoring
must read). PostgreSQL from BENCH_PG_URL (default: the local server), else --sqlite.

    .venv/bin/python bench/assess.py              # the region, PostgreSQL
    .venv/bin/python bench/assess.py --sqlite     # the same on a SQLite file
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from sqlalchemy import func, insert, select

from app.assessment import months
from app.base.database import make_engine, upgrade
from app.base.tables import alarms, ratings, supervision_orders
from rules.alarms import KINDS
from rules.assessment import DEFAULT_RULES, parse_rules

CST = ZoneInfo("Asia/Shanghai")
NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
# Order numbers per data set, the same in both databases (each writes every set once).
SEQUENCE = {tag: itertools.count(start) for tag, start in (("nov", 1), ("late", 100_001), ("dec", 200_001))}
PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def region(centers: int, departments: int) -> dict[str, str]:
    ids = [f"C{i:03d}" for i in range(centers)]
    return {f"D{i:04d}": ids[i % centers] for i in range(departments)}


def write_month(engine, depts: dict[str, str], month: date, alarms_per_dept: int, rng: random.Random, tag: str):
    kinds = sorted(KINDS)
    start = datetime.combine(month, datetime.min.time(), tzinfo=CST)
    rows, order_rows, rating_rows = [], [], []
    for dept, center in depts.items():
        for i in range(rng.randint(0, 2 * alarms_per_dept)):
            kind = rng.choice(kinds)
            reason = rng.choices([None, "resolved", "retracted", "revoked"], [60, 30, 7, 3])[0]
            rows.append(
                {
                    "kind": kind,
                    "level": str(KINDS[kind].level),
                    "case_no": f"{tag}-{dept}-{i}",
                    "subject": "",
                    "center_id": center,
                    "dept_id": dept,
                    "fired_at": start + timedelta(minutes=rng.randrange(29 * 24 * 60)),
                    "state": "closed" if reason else "open",
                    "closed_reason": reason,
                    "updated_at": start,
                }
            )
        for i in range(rng.randint(0, 2)):
            at = start + timedelta(minutes=rng.randrange(29 * 24 * 60))
            order_rows.append(
                {
                    "order_no": f"{tag}-{dept}-{i}",
                    "year": 2026,
                    "sequence": next(SEQUENCE[tag]),
                    "center_id": center,
                    "dept_id": dept,
                    "instructions": "x",
                    "state": "awaiting",
                    "round": 1,
                    "feedback_due": month,
                    "issued_by": "bench",
                    "issued_at": at,
                    "updated_at": at,
                }
            )
        for i in range(rng.randint(0, 3)):
            rating_rows.append(
                {
                    "source": "onsite",
                    "source_id": f"{tag}-{dept}-{i}",
                    "center_id": center,
                    "dept_id": dept,
                    "score": rng.choice([0, 20, 60, 80, 100]),
                    "rated_at": start + timedelta(minutes=rng.randrange(29 * 24 * 60)),
                }
            )
    with engine.begin() as conn:
        for start_at in range(0, len(rows), 10_000):
            conn.execute(insert(alarms), rows[start_at : start_at + 10_000])
        if order_rows:
            conn.execute(insert(supervision_orders), order_rows)
        if rating_rows:
            conn.execute(insert(ratings), rating_rows)
    return len(rows)


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def baseline(engine) -> float:
    query = select(alarms.c.center_id, alarms.c.dept_id, alarms.c.kind, func.count()).group_by(
        alarms.c.center_id, alarms.c.dept_id, alarms.c.kind
    )
    with engine.connect() as conn:
        return timed(lambda: conn.execute(query).all())[1]


def database(args, name: str):
    if args.sqlite:
        return make_engine(f"sqlite:///{Path(tempfile.mkdtemp()) / name}.db"), None
    import psycopg
    from sqlalchemy.engine import make_url

    db = f"bench_assess_{name}_{uuid.uuid4().hex[:8]}"
    admin = make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    return make_engine(make_url(PG_ADMIN).set(database=db).render_as_string(hide_password=False)), db


def drop(db: str | None) -> None:
    if db is None:
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centers", type=int, default=127)
    parser.add_argument("--departments", type=int, default=4000)
    parser.add_argument("--alarms-per-dept", type=int, default=10, help="Mean alarms per department and month.")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL.")
    args = parser.parse_args()
    rules = parse_rules(DEFAULT_RULES)
    depts = region(args.centers, args.departments)
    engine, name = database(args, "a")
    fresh, fresh_name = database(args, "b")
    try:
        for e in (engine, fresh):
            upgrade(e)
        written = write_month(engine, depts, NOV, args.alarms_per_dept, random.Random(1), "nov")
        write_month(fresh, depts, NOV, args.alarms_per_dept, random.Random(1), "nov")
        now = datetime(2026, 12, 1, 8, tzinfo=CST)
        base = baseline(engine)
        scores, scratch = timed(lambda: months.compute(engine, NOV, rules, depts, CST, now))
        months.lock(engine, NOV, "bench", now)
        late = write_month(engine, depts, NOV, max(args.alarms_per_dept // 100, 1), random.Random(2), "late")
        write_month(fresh, depts, NOV, max(args.alarms_per_dept // 100, 1), random.Random(2), "late")
        write_month(engine, depts, DEC, args.alarms_per_dept, random.Random(3), "dec")
        december, incremental = timed(lambda: months.compute(engine, DEC, rules, depts, CST, now))
        recount, again = timed(lambda: months.compute(fresh, NOV, rules, depts, CST, now))
        locked = {s["unit"]: s["deductions"] for s in scores}
        carried = {s["unit"]: s["late"] for s in december}
        agree = all(
            abs(r["deductions"] - locked.get(r["unit"], 0.0) - carried.get(r["unit"], 0.0)) < 1e-6 for r in recount
        )
        print(
            f"region: {args.centers} centers, {len(depts)} departments; {written:,} alarms in the month, {late:,} late"
        )
        print(f"baseline GROUP BY over the alarms : {base:7.2f} s")
        print(f"month from scratch (draft)       : {scratch:7.2f} s  ({scratch / base:.1f}x the baseline)")
        print(f"next month, carrying late data   : {incremental:7.2f} s  ({incremental / base:.1f}x the baseline)")
        print(f"locked month recounted elsewhere : {again:7.2f} s")
        print(f"locked + carried == recount, unit by unit: {'yes' if agree else 'NO'}")
        ranked = sorted((s for s in scores if s["unit"].startswith("dept:")), key=lambda s: (-s["score"], s["unit"]))
        print("top five   :", ", ".join(f"{s['unit'][5:]} {s['score']:.1f}" for s in ranked[:5]))
        print("bottom five:", ", ".join(f"{s['unit'][5:]} {s['score']:.1f}" for s in ranked[-5:]))
        if not agree:
            sys.exit(1)
    finally:
        engine.dispose()
        fresh.dispose()
        drop(name)
        drop(fresh_name)


if __name__ == "__main__":
    main()
