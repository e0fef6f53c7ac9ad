"""Benchmark of the web dashboard on a large region.

    .venv/bin/python bench/web.py [--cases 6600000] [--sessions 50] [--seconds 60] [--workers 2]

1. Builds a region (1 region center, 14 cities, 111 counties; 20 departments per
   center, 3 windows each) in a throwaway PostgreSQL database, with ``--cases``
   cases spread over the past 365 days, half as many ratings, and open and closed
   alarms, written straight into the supervision tables with binary COPY (indexes
   built after the load). The exchange database (reference data only) is a SQLite
   file. The build time is printed.
2. Builds the KPI pre-aggregation from scratch (timed).
3. Starts ``supervise serve`` (gunicorn, ``--workers``) against it and a real Redis,
   logs in ``--sessions`` users of every role, and has each poll the control room
   every second and ask for the KPI page (the last 30 days, as it opens) every ten
   seconds, while a writer adds an alarm and acknowledges another every two seconds.
4. Calls the same callbacks in this process through the app, cached and uncached
   (see :func:`in_process_callbacks`), and computes the data uncached in the same
   run: the board query, the KPI report read from kpi_daily without the cache, and
   the KPI totals computed straight from the cases table (what the page would cost
   with no pre-aggregation).
5. Times a case dossier PDF, cold and warm.

Results go to stdout and bench/out/web.json. Exits 1 if a goal is missed:
callback p95 <= 150 ms (server time, Server-Timing header, under the full load),
the board and the KPI callbacks each >= 10x faster cached than uncached (p50,
in process, same data), warm dossier <= 2 s, no errors. Nothing is counted during the first ``--warmup``
seconds of the sessions (first page loads, the server's first KPI refresh). The
load average during the run is recorded: on a shared 2-core machine other work
moves the tail a lot.

"Board uncached" in process is a worst case (a fresh page: all 200 rows drawn
and sent); under load most polls are "nothing changed" answers of a few ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
from sqlalchemy import func, insert, select, text

from tests.redis_claim import claimed_database

ZONE = ZoneInfo("Asia/Shanghai")
PG_ADMIN = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
PASSWORD = "bench password 1"
DEPTS = [
    "民政局",
    "市场监管局",
    "人社局",
    "住建局",
    "自然资源局",
    "公安局",
    "税务局",
    "卫健委",
    "交通运输局",
    "教育局",
    "生态环境局",
    "农业农村局",
    "商务局",
    "文旅局",
    "水利局",
    "应急管理局",
    "医保局",
    "司法局",
    "林业局",
    "发改委",
]
CITIES = [
    "南宁",
    "柳州",
    "桂林",
    "梧州",
    "北海",
    "防城港",
    "钦州",
    "贵港",
    "玉林",
    "百色",
    "贺州",
    "河池",
    "来宾",
    "崇左",
]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- the region --------------------------------------------------------------------------------


def build_reference(exchange_url: str) -> dict:
    from app.base import exchange as x
    from app.base.exchange import create_exchange_schema, exchange_engine

    engine = exchange_engine(exchange_url)
    create_exchange_schema(engine)
    centers = [("GX-450000", "广西壮族自治区政务服务中心", "region", None)]
    for c, city in enumerate(CITIES, start=1):
        city_id = f"GX-45{c:02d}00"
        centers.append((city_id, f"{city}市政务服务中心", "city", "GX-450000"))
        for k in range(1, 9 if c < 14 else 6):  # 13 x 8 + 7 = 111 counties
            centers.append((f"GX-45{c:02d}{k:02d}", f"{city}第{k}县区政务服务中心", "county", city_id))
    places = []
    with engine.begin() as conn:
        conn.execute(
            insert(x.centers),
            [dict(center_id=a, name=b, level=c, parent_id=d, area_code=a[3:]) for a, b, c, d in centers],
        )
        depts, windows, cameras, staff, items = [], [], [], [], []
        for center_id, *_ in centers:
            for d, name in enumerate(DEPTS):
                dept_id = f"{center_id}-D{d:02d}"
                depts.append(dict(dept_id=dept_id, center_id=center_id, name=name))
                items.append(
                    dict(
                        item_code=f"I-{dept_id}",
                        name=f"{name}许可",
                        dept_id=dept_id,
                        promised_days=5 + d % 4 * 5,
                        statutory_days=20,
                    )
                )
                for w in range(3):
                    window_id = f"{dept_id}-W{w}"
                    windows.append(dict(window_id=window_id, center_id=center_id, dept_id=dept_id, label=f"{d}{w}"))
                    cameras.append(
                        dict(
                            camera_id=f"C-{window_id}", window_id=window_id, url="rtsp://u:p@127.0.0.1:9/", enabled=True
                        )
                    )
                    staff.append(
                        dict(staff_id=f"S-{window_id}", name=f"员工{d}{w}", dept_id=dept_id, window_id=window_id)
                    )
                    places.append((center_id, dept_id, window_id, f"S-{window_id}", 5 + d % 4 * 5))
        for table, rows in (
            (x.departments, depts),
            (x.windows, windows),
            (x.cameras, cameras),
            (x.staff, staff),
            (x.items, items),
        ):
            conn.execute(insert(table), rows)
    return {"centers": centers, "places": places}


CASE_TYPES = [
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "date",
    "bool",
    "date",
    "date",
    "int4",
    "int4",
    "timestamptz",
    "text",
    "bool",
    "bool",
    "int4",
    "int4",
    "int4",
    "text",  # clocks (json): its binary form is its text, sent as is instead of dumped again each row
    "timestamptz",
]
RATING_TYPES = ["text", "text", "text", "text", "text", "text", "text", "int4", "timestamptz"]
ALARM_TYPES = [
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "date",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
]


def build_cases(db_url: str, places: list, n_cases: int, now: datetime, seed: int = 7) -> dict:
    """COPY cases, ratings and alarms into the supervision database; returns sample ids.

    A year of a region is millions of rows: the secondary indexes are dropped
    for the load and built again after it (a sort instead of millions of
    insertions), rows go in binary COPY, and the tables are vacuumed and
    analysed as autovacuum would have done long before anyone looked.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    from app.base.database import long_statements, make_engine
    from app.base.tables import alarms, cases, ratings

    url = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    engine = make_engine(db_url)
    indexes = [index for table in (cases, ratings, alarms) for index in table.indexes]
    for index in indexes:
        index.drop(engine)
    try:
        with psycopg.connect(url) as conn:
            samples = _copy_rows(conn, places, n_cases, now, seed)
    finally:
        with long_statements(), engine.begin() as conn:  # indexes on millions of rows take minutes
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")  # sorts in memory, not on disk
            for index in indexes:
                index.create(conn)
        engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) cases, ratings, alarms")
    return samples


def _copy_rows(conn, places: list, n_cases: int, now: datetime, seed: int) -> dict:
    rng = random.Random(seed)
    start = now - timedelta(days=365)
    samples = {}
    open_cases = []
    with conn.cursor() as cur:
        columns = (
            "case_no, item_code, center_id, dept_id, window_id, staff_id, applicant_phone, status, received_at,"
            " start_date, deemed_accepted, promise_due, statutory_due, paused_days, extension_days,"
            " completed_at, result, on_time, early, used_days, promised_days, corrections, clocks, judged_at"
        )
        with cur.copy(f"COPY cases ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(CASE_TYPES)
            for i in range(n_cases):
                center_id, dept_id, window_id, staff_id, promised = places[rng.randrange(len(places))]
                received = start + timedelta(seconds=rng.random() * 365 * 86400)
                received = received.replace(hour=1 + rng.randrange(8))  # 09:00-17:00 local
                age = (now - received).days
                used = max(1, min(promised + 3, int(rng.gauss(promised * 0.6, promised * 0.3))))
                done = age > used * 1.5 and rng.random() > 0.02
                status = "completed" if done else ("accepted" if rng.random() > 0.1 else "correction")
                completed_at = received + timedelta(days=used * 1.4, hours=rng.random() * 6) if done else None
                if completed_at and completed_at > now:
                    completed_at, status, done = None, "accepted", False
                on_time = used <= promised if done else None
                case_no = f"B{i:09d}"
                due = (received + timedelta(days=promised * 1.4)).date()
                # Judged last when it last changed: on completion, when its promise clock ran out, or (not yet
                # due) on receipt. Judged "just now", every case would look re-judged to the server's KPI refresher.
                judged = completed_at if done else datetime.combine(due + timedelta(days=1), dtime(0), ZONE)
                judged = min(now, (judged if judged < now else received) + timedelta(minutes=rng.randrange(60)))
                copy.write_row(
                    (
                        case_no,
                        f"I-{dept_id}",
                        center_id,
                        dept_id,
                        window_id,
                        staff_id,
                        f"139{rng.randrange(10**8):08d}",
                        status,
                        received,
                        received.date(),
                        False,
                        due,
                        due + timedelta(days=20),
                        0,
                        0,
                        completed_at,
                        "approved" if done else None,
                        on_time,
                        (used < promised) if done else None,
                        used if done else None,
                        promised,
                        1 if rng.random() < 0.15 else 0,
                        "[]",
                        judged,
                    )
                )
                if not done:
                    open_cases.append((case_no, center_id, dept_id, window_id, staff_id, due))
                if i == n_cases // 2:
                    samples["case_no"] = case_no
                    samples["dept_id"] = dept_id
        with cur.copy(
            "COPY ratings (source, source_id, case_no, center_id, dept_id, window_id, staff_id, score,"
            " rated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(RATING_TYPES)
            for i in range(n_cases // 2):
                center_id, dept_id, window_id, staff_id, _ = places[rng.randrange(len(places))]
                copy.write_row(
                    (
                        "onsite",
                        f"r{i}",
                        None,
                        center_id,
                        dept_id,
                        window_id,
                        staff_id,
                        rng.choices((100, 80, 60, 0), (70, 20, 8, 2))[0],
                        start + timedelta(seconds=rng.random() * 365 * 86400),
                    )
                )
        with cur.copy(
            "COPY alarms (kind, level, case_no, subject, center_id, dept_id, window_id, staff_id, fired_at,"
            " due, state, closed_reason, closed_at, updated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(ALARM_TYPES)
            for case_no, center_id, dept_id, window_id, staff_id, due in open_cases:
                fired = datetime.combine(due + timedelta(days=1), dtime(0), ZONE)
                if fired > now:
                    continue
                state = "open" if rng.random() < 0.6 else "acknowledged"
                copy.write_row(
                    (
                        "promise_overdue",
                        "alarm",
                        case_no,
                        "",
                        center_id,
                        dept_id,
                        window_id,
                        staff_id,
                        fired,
                        due,
                        state,
                        None,
                        None,
                        fired,
                    )
                )
            for i in range(n_cases // 50):  # history: closed alarms
                center_id, dept_id, window_id, staff_id, _ = places[rng.randrange(len(places))]
                fired = start + timedelta(seconds=rng.random() * 360 * 86400)
                copy.write_row(
                    (
                        "promise_warning",
                        "warning",
                        f"B{rng.randrange(n_cases):09d}",
                        f"h{i}",
                        center_id,
                        dept_id,
                        window_id,
                        staff_id,
                        fired,
                        None,
                        "closed",
                        "resolved",
                        fired + timedelta(days=2),
                        fired + timedelta(days=2),
                    )
                )
        conn.commit()
    samples["open_cases"] = len(open_cases)
    return samples


def add_sample_events(engine, case_no: str, now: datetime) -> None:
    from app.base.tables import cases, events

    with engine.begin() as conn:
        row = conn.execute(select(cases).where(cases.c.case_no == case_no)).mappings().one()
        received = row["received_at"]
        kinds = [
            ("received", received, {}),
            ("accepted", received + timedelta(hours=3), {}),
            ("step_started", received + timedelta(days=1), {"step_id": "S1", "name": "审查", "limit_days": 3}),
            ("step_started", received + timedelta(days=1), {"step_id": "S2", "name": "核查", "limit_days": 3}),
            ("step_completed", received + timedelta(days=2), {"step_id": "S1"}),
            ("step_completed", received + timedelta(days=3), {"step_id": "S2"}),
        ]
        for n, (kind, at, payload) in enumerate(kinds):
            conn.execute(
                insert(events).values(
                    event_id=10**12 + n,
                    case_no=case_no,
                    kind=kind,
                    occurred_at=at,
                    recorded_at=at,
                    center_id=row["center_id"],
                    dept_id=row["dept_id"],
                    payload=payload,
                    dup_key=f"bench-{case_no}-{n}",
                    held=False,
                )
            )


# --- load ------------------------------------------------------------------------------------------


def form_token(page: str) -> str:
    """The CSRF token of the login form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


class Session(threading.Thread):
    """One browser: polls the control room each second and the KPI page every ten seconds."""

    def __init__(
        self, base: str, name: str, measure_from: float, until: float, results: dict, lock: threading.Lock, kpi_range
    ):
        super().__init__(name=f"bench.session:{name}", daemon=True)
        self.base, self.name, self.until, self.results, self.lock = base, name, until, results, lock
        self.measure_from = measure_from
        self.kpi_range = kpi_range
        self.http = requests.Session()
        self.shown, self.position = None, None

    def record(self, kind: str, seconds: float) -> None:
        if time.monotonic() < self.measure_from:  # warming up: first page loads, the server's first KPI refresh
            return
        with self.lock:
            self.results.setdefault(kind, []).append(seconds)

    def call(self, outputs, inputs, state=()):
        output = (
            f"{outputs[0][0]}.{outputs[0][1]}"
            if len(outputs) == 1
            else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        )
        outs = (
            {"id": outputs[0][0], "property": outputs[0][1]}
            if len(outputs) == 1
            else [{"id": i, "property": p} for i, p in outputs]
        )
        body = {
            "output": output,
            "outputs": outs,
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
        }
        started = time.perf_counter()
        response = self.http.post(self.base + "/_dash-update-component", json=body, timeout=30)
        elapsed = time.perf_counter() - started
        timing = response.headers.get("Server-Timing", "")
        if "dur=" in timing:
            self.record(
                "server_" + ("kpi" if outputs[0][0] == "kpi-content" else "board"),
                float(timing.split("dur=")[1]) / 1000,
            )
        return response, elapsed

    def poll_board(self, n: int) -> None:
        outputs = [
            ("control-room-ops", "data"),
            ("control-room-shown", "data"),
            ("control-room-position", "data"),
            ("control-room-counts", "children"),
            ("control-room-new-red", "data"),
        ]
        inputs = [
            ("control-room-poll", "n_intervals", n),
            ("control-room-filter-center", "value", None),
            ("control-room-filter-dept", "value", None),
            ("control-room-filter-kind", "value", None),
            ("control-room-filter-level", "value", None),
        ]
        response, seconds = self.call(
            outputs,
            inputs,
            [("control-room-shown", "data", self.shown), ("control-room-position", "data", self.position)],
        )
        if response.status_code == 200:
            body = response.json()["response"]
            self.shown = body.get("control-room-shown", {}).get("data", self.shown)
            self.position = body.get("control-room-position", {}).get("data", self.position)
            self.record("board_changed", seconds)
        elif response.status_code != 204:
            self.record("errors", seconds)
        self.record("board", seconds)

    def ask_kpi(self) -> None:
        start, end = self.kpi_range
        response, seconds = self.call(
            [("kpi-content", "children"), ("kpi-pdf", "href")],
            [("kpi-range", "start_date", start), ("kpi-range", "end_date", end), ("kpi-scope", "value", None)],
        )
        self.record("kpi" if response.status_code == 200 else "errors", seconds)

    def run(self) -> None:
        token = form_token(self.http.get(self.base + "/login", timeout=30).text)
        login = self.http.post(
            self.base + "/login",
            data={"name": self.name, "password": PASSWORD, "next": "/", "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        assert login.status_code == 302, login.text
        self.http.get(self.base + "/", timeout=30)  # hands out the CSRF cookie Dash's renderer sends back
        self.http.headers["X-CSRFToken"] = self.http.cookies["_csrf_token"]
        time.sleep(random.random())
        n, next_kpi = 0, time.monotonic() + random.random() * 10
        while time.monotonic() < self.until:
            tick = time.monotonic()
            try:
                self.poll_board(n)
                if tick >= next_kpi:
                    self.ask_kpi()
                    next_kpi = tick + 10
            except requests.RequestException:
                self.record("errors", 0.0)
            n += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


def writer(engine, places, stop: threading.Event, now_fn) -> None:
    """The ingest's side: a new alarm and an acknowledgement every two seconds."""
    from app.base.tables import alarms
    from ingest.actions import ActionRefused, act

    rng = random.Random(3)
    while not stop.wait(2.0):
        center_id, dept_id, window_id, staff_id, _ = places[rng.randrange(len(places))]
        now = now_fn()
        with engine.begin() as conn:
            conn.execute(
                insert(alarms).values(
                    kind="statutory_overdue",
                    level="alarm",
                    case_no=None,
                    subject=uuid.uuid4().hex,
                    center_id=center_id,
                    dept_id=dept_id,
                    window_id=window_id,
                    staff_id=staff_id,
                    fired_at=now,
                    state="open",
                    updated_at=now,
                )
            )
            target = conn.execute(select(alarms.c.id).where(alarms.c.state == "open").limit(1)).scalar()
        try:
            act(engine, target, "ack", "bench", "基准测试", now)
        except ActionRefused:
            pass


# --- uncached ------------------------------------------------------------------------------------


def raw_kpi_totals(engine, scope, start: date, end: date):
    """What the KPI headline costs without pre-aggregation: straight from the cases table."""
    from sqlalchemy import and_
    from sqlalchemy import case as sql_case

    from app.base.tables import cases

    lo = datetime.combine(start, dtime(0), ZONE)
    hi = datetime.combine(end + timedelta(days=1), dtime(0), ZONE)
    flag = lambda c: func.sum(sql_case((c, 1), else_=0))
    with engine.connect() as conn:
        return conn.execute(
            select(
                func.count(),
                flag(cases.c.on_time.is_(True)),
                flag(cases.c.early.is_(True)),
                func.avg(cases.c.used_days),
                func.avg(cases.c.promised_days),
                flag(cases.c.corrections > 0),
                cases.c.center_id,
            )
            .where(
                and_(
                    cases.c.completed_at >= lo,
                    cases.c.completed_at < hi,
                    scope.where(cases.c.center_id, cases.c.dept_id),
                )
            )
            .group_by(cases.c.center_id)
        ).all()


REPEATS = 5  # calls per user and way: 20 users, so 100 timings of each


def in_process_callbacks(settings, engine, users, kpi_range, board: bool = True) -> dict:
    """p50/p95 of the control-room and KPI callbacks called through the app, cached and uncached.

    Every board call is a fresh page: all (up to 200) rows drawn and sent. Six ways:

    * ``uncached``: no cache at all: the board read and drawn, the answer worked out;
    * ``cached``: the change marker re-read on every call, as the first poll after
      the process's copy expires does (one small Redis GET of the marker the
      processes share), then the shared answer;
    * ``…_marker_from_db``: the same two with the marker read from the stream and
      the database on every call, as one process of the deployment does twice a second;
    * ``…_shared_marker``: the same two with the marker as the sessions of a server
      share it (read at most twice a second), as most polls find it in production.

    The speedup goal compares ``cached`` with ``uncached`` (p50 over p50): both pay
    the marker. The ways take turns call by call; the median of each request's own
    uncached/cached ratio is reported beside it.
    """
    from flask_caching import Cache

    from app.web import create_app

    app = create_app(settings, engine=engine, background=False)
    services = app.extensions["supervise"]
    cached_cache = services.cache
    null_cache = Cache(app, config={"CACHE_TYPE": "NullCache"})
    out = {}
    board_outputs = [
        ("control-room-ops", "data"),
        ("control-room-shown", "data"),
        ("control-room-position", "data"),
        ("control-room-counts", "children"),
        ("control-room-new-red", "data"),
    ]
    board_body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in board_outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in board_outputs],
        "inputs": [{"id": "control-room-poll", "property": "n_intervals", "value": 1}]
        + [
            {"id": f"control-room-filter-{f}", "property": "value", "value": None}
            for f in ("center", "dept", "kind", "level")
        ],
        "state": [
            {"id": "control-room-shown", "property": "data", "value": []},
            {"id": "control-room-position", "property": "data", "value": "x"},
        ],
        "changedPropIds": ["control-room-poll.n_intervals"],
    }
    kpi_body = {
        "output": "..kpi-content.children...kpi-pdf.href..",
        "outputs": [{"id": "kpi-content", "property": "children"}, {"id": "kpi-pdf", "property": "href"}],
        "inputs": [
            {"id": "kpi-range", "property": "start_date", "value": kpi_range[0]},
            {"id": "kpi-range", "property": "end_date", "value": kpi_range[1]},
            {"id": "kpi-scope", "property": "value", "value": None},
        ],
        "state": [],
        "changedPropIds": ["kpi-range.start_date"],
    }
    modes = (
        ("cached", cached_cache, "process"),
        ("uncached", null_cache, "process"),
        ("cached_marker_from_db", cached_cache, "everywhere"),
        ("uncached_marker_from_db", null_cache, "everywhere"),
        ("cached_shared_marker", cached_cache, None),
        ("uncached_shared_marker", null_cache, None),
    )
    times: dict[tuple[str, str], list[float]] = {}

    def call(client, label: str, kind: str, body: dict) -> None:
        started = time.perf_counter()
        response = client.post(
            "/_dash-update-component", json=body, headers={"X-CSRFToken": client.get_cookie("_csrf_token").value}
        )
        times.setdefault((kind, label), []).append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code

    # The ways take turns call by call, so a burst of load from other work on the machine hits them alike.
    for name, _, _ in users[:20]:
        client = app.test_client()
        client.post(
            "/login",
            data={
                "name": name,
                "password": PASSWORD,
                "next": "/",
                "csrf_token": form_token(client.get("/login").get_data(as_text=True)),
            },
        )
        client.get("/")
        for _ in range(REPEATS):
            for label, cache, forget_marker in modes:
                services.cache = cache
                if board:
                    if forget_marker == "process":
                        services._marker = (0.0, None)
                    elif forget_marker == "everywhere":
                        services.forget_board_marker()
                    call(client, label, "board", board_body)
                if forget_marker == "process":  # the KPI callback reads no marker
                    call(client, label, "kpi", kpi_body)
    for (kind, label), values in times.items():
        out[f"inprocess_{kind}_{label}_p50_ms"] = round(1000 * percentile(values, 50), 1)
        out[f"inprocess_{kind}_{label}_p95_ms"] = round(1000 * percentile(values, 95), 1)
    for kind, suffix in (("board", ""), ("board", "_marker_from_db"), ("kpi", "")):
        # the same request's two timings, taken one after the other
        pairs = zip(times.get((kind, "uncached" + suffix), []), times.get((kind, "cached" + suffix), []))
        ratios = [slow / fast for slow, fast in pairs]
        if ratios:
            out[f"inprocess_{kind}{suffix}_paired_speedup_median"] = round(statistics.median(ratios), 1)
    services.cache = cached_cache
    return out


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases", type=int, default=6_600_000, help="Cases over the past year (a region: 6.6 million)."
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="Seconds the sessions run before anything is counted (first page loads, the server's "
        "first KPI refresh and prewarm).",
    )
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    args = parser.parse_args()

    from contextlib import ExitStack

    import psycopg
    from sqlalchemy.engine import make_url

    from app.base.database import open_database
    from app.base.exchange import exchange_engine
    from app.base.settings import Settings
    from app.kpi.aggregate import refresh
    from app.kpi.refresher import prewarm
    from app.kpi.report import compute_report
    from app.queries import alarms as alarm_queries
    from app.queries.reference import read_reference
    from app.scope import scope_for
    from app.users import add_user

    db_name = f"supervise_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )
    admin.execute(f'CREATE DATABASE "{db_name}"')
    db_url = make_url(PG_ADMIN).set(database=db_name).render_as_string(hide_password=False)
    claim = ExitStack()
    redis_url = claim.enter_context(claimed_database(REDIS, hold_seconds=4 * 3600, order=range(15, 0, -1)))
    if redis_url is None:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        raise SystemExit("no free Redis database for the bench (all 15 are claimed)")
    var_dir = Path(tempfile.mkdtemp(prefix="supervise-bench-"))
    settings = Settings(var_dir=var_dir, db_url=db_url, redis_url=redis_url)
    report: dict = {
        "cases": args.cases,
        "sessions": args.sessions,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "workers": args.workers,
    }
    server = None
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        ref_info = build_reference(settings.exchange_url_resolved)
        engine = open_database(settings)
        samples = build_cases(db_url, ref_info["places"], args.cases, now)
        add_sample_events(engine, samples["case_no"], now)
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        print(
            f"built {args.cases} cases over 365 days, {samples['open_cases']} open, "
            f"{len(ref_info['centers'])} centers, {len(ref_info['places'])} windows in {report['build_seconds']} s",
            flush=True,
        )

        started = time.perf_counter()
        days = refresh(engine, ZONE, now)
        report["kpi_full_build_seconds"] = round(time.perf_counter() - started, 1)
        with engine.connect() as conn:
            report["kpi_daily_rows"] = conn.execute(text("SELECT count(*) FROM kpi_daily")).scalar()
        print(
            f"kpi pre-aggregation: {days} days, {report['kpi_daily_rows']} rows in "
            f"{report['kpi_full_build_seconds']} s",
            flush=True,
        )

        reference = read_reference(exchange_engine(settings.exchange_url_resolved))
        users = []
        roles = [("region", "GX-450000")] * 5 + [("city", c) for c, _, lv, _ in ref_info["centers"] if lv == "city"]
        counties = [c for c, _, lv, _ in ref_info["centers"] if lv == "county"]
        roles += [("center", c) for c in counties[:21]]
        roles += [("department", f"{c}-D{d:02d}") for c in counties[21:31] for d in (0,)]
        for index, (role, scope_id) in enumerate(roles[: args.sessions]):
            name = f"bench{index:02d}"
            add_user(engine, name, PASSWORD, role, scope_id, now)
            users.append((name, role, scope_id))

        from app.web import create_app

        started = time.perf_counter()
        warm_app = create_app(settings, engine=engine, background=False)
        report["kpi_prewarmed_scopes"] = prewarm(warm_app.extensions["supervise"])
        report["kpi_prewarm_seconds"] = round(time.perf_counter() - started, 1)
        env = {
            **os.environ,
            "SUPERVISE_VAR_DIR": str(var_dir),
            "SUPERVISE_DB_URL": db_url,
            "SUPERVISE_REDIS_URL": redis_url,
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app.cli import main; main()",
                "serve",
                "--port",
                str(args.port),
                "--workers",
                str(args.workers),
                "--threads",
                "16",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(var_dir / "serve.log", "w"),
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(120):
            try:
                if requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        today = now.astimezone(ZONE).date()
        # Sessions poll the KPI page as it opens (the last 30 days); a whole year is measured separately below.
        kpi_range = ((today - timedelta(days=29)).isoformat(), today.isoformat())
        year_range = ((today - timedelta(days=364)).isoformat(), today.isoformat())
        results: dict[str, list[float]] = {}
        lock = threading.Lock()
        measure_from = time.monotonic() + args.warmup
        until = measure_from + args.seconds
        stop = threading.Event()
        write_thread = threading.Thread(
            target=writer,
            args=(engine, ref_info["places"], stop, lambda: datetime.now(UTC)),
            name="bench.writer",
            daemon=True,
        )
        write_thread.start()
        sessions = [Session(base, name, measure_from, until, results, lock, kpi_range) for name, _, _ in users]
        for s in sessions:
            s.start()
        for s in sessions:
            s.join()
        stop.set()
        report["load_average_during_run"] = os.getloadavg()
        for kind in ("board", "board_changed", "kpi", "server_board", "server_kpi"):
            values = results.get(kind, [])
            report[f"{kind}_requests"] = len(values)
            report[f"{kind}_p50_ms"] = round(1000 * percentile(values, 50), 1)
            report[f"{kind}_p95_ms"] = round(1000 * percentile(values, 95), 1)
        report["errors"] = len(results.get("errors", []))

        # The same callbacks in this process, through the app, with the cache and without it.
        report |= in_process_callbacks(settings, engine, users, kpi_range)
        report |= {
            k.replace("inprocess_kpi", "inprocess_kpi_year"): v
            for k, v in in_process_callbacks(settings, engine, users, year_range, board=False).items()
        }

        # The same data, uncached, in the same run.
        scopes = [scope_for(role, scope_id, reference) for _, role, scope_id in users]
        escalate = timedelta(minutes=30)
        first, last = date.fromisoformat(kpi_range[0]), date.fromisoformat(kpi_range[1])
        board_raw = [
            t
            for s in scopes[:20]
            for t in timed(
                lambda s=s: alarm_queries.board(engine, s, alarm_queries.BoardFilters(), datetime.now(UTC), escalate),
                1,
            )
        ]
        kpi_uncached = [
            t
            for s in scopes[:10]
            for t in timed(lambda s=s: compute_report(engine, reference, s, first, last, now, ZONE), 1)
        ]
        kpi_raw = [t for s in scopes[:10] for t in timed(lambda s=s: raw_kpi_totals(engine, s, first, last), 1)]
        year_first = date.fromisoformat(year_range[0])
        kpi_raw_year = [
            t for s in scopes[:10] for t in timed(lambda s=s: raw_kpi_totals(engine, s, year_first, last), 1)
        ]
        report["kpi_year_from_cases_p50_ms"] = round(1000 * percentile(kpi_raw_year, 50), 1)
        report["kpi_year_from_cases_p95_ms"] = round(1000 * percentile(kpi_raw_year, 95), 1)
        for kind, values in (
            ("board_uncached", board_raw),
            ("kpi_uncached_preaggregated", kpi_uncached),
            ("kpi_from_cases", kpi_raw),
        ):
            report[f"{kind}_p50_ms"] = round(1000 * percentile(values, 50), 1)
            report[f"{kind}_p95_ms"] = round(1000 * percentile(values, 95), 1)

        from app.pdf import Sources, case_dossier
        from app.web import center_calendar

        sources = Sources(engine, reference, now, ZONE, lambda c: center_calendar(None, c), var_dir, "bench")
        region_scope = scope_for("region", "GX-450000", reference)
        cold = timed(lambda: case_dossier(sources, region_scope, samples["case_no"]), 1)[0]
        warm = timed(lambda: case_dossier(sources, region_scope, samples["case_no"]), 5)
        report["dossier_pdf_cold_s"] = round(cold, 3)
        report["dossier_pdf_warm_s"] = round(statistics.median(warm), 3)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        try:
            engine.dispose()
        except NameError:
            pass
        claim.close()  # flushes the Redis database and releases it
        if not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"kept: database {db_name}, files {var_dir}", flush=True)

    report["speedup_board_callback"] = round(
        report["inprocess_board_uncached_p50_ms"] / max(report["inprocess_board_cached_p50_ms"], 0.1), 1
    )
    report["speedup_board_callback_shared_marker"] = round(
        report["inprocess_board_uncached_shared_marker_p50_ms"]
        / max(report["inprocess_board_cached_shared_marker_p50_ms"], 0.1),
        1,
    )
    report["speedup_board_callback_marker_from_db"] = round(
        report["inprocess_board_uncached_marker_from_db_p50_ms"]
        / max(report["inprocess_board_cached_marker_from_db_p50_ms"], 0.1),
        1,
    )
    report["speedup_kpi_callback"] = round(
        report["inprocess_kpi_uncached_p50_ms"] / max(report["inprocess_kpi_cached_p50_ms"], 0.1), 1
    )
    report["speedup_kpi_vs_cases_table"] = round(
        report["kpi_from_cases_p50_ms"] / max(report["inprocess_kpi_cached_p50_ms"], 0.1), 1
    )
    report["goals"] = {
        # Time spent in the server per callback, under the full load of all sessions.
        "callback_p95_le_150ms": max(report["server_board_p95_ms"], report["server_kpi_p95_ms"]) <= 150,
        "board_ten_times_faster_than_uncached": report["speedup_board_callback"] >= 10,
        "kpi_ten_times_faster_than_uncached": report["speedup_kpi_callback"] >= 10,
        "warm_dossier_le_2s": report["dossier_pdf_warm_s"] <= 2.0,
        "no_errors": report["errors"] == 0,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if all(report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
