"""Benchmark: the CPU cost of `rules` per case judged and per exchange row checked.

Loads a simulated month of region traffic from the exchange database that
``bench/ingest.py`` keeps (``bench_ingest_x_0_1_30``: 276,400 rows, ~55,000
cases; read only), checks every row with ``rules.events.check_row`` as the
ingest does, and judges every case with ``rules.clocks.judge_case`` at the
end of the month, as ``fire_due`` does.

Each is reported as CPU µs per case / per row (``time.process_time``) and as a
ratio against a baseline measured in the same run, interleaved with it, the
median of --repeat rounds (the machine is shared and noisy; the ratio is
what to compare between runs):

- judge_case against **sorting each case's events by (occurred_at, event_id)**:
  the least any judgement must do (the contract judges a case from its events
  in event-time order), over the same lists, with the same per-case call shape.
- check_row against **building the Event without judging it**: ``Event(*row[:11],
  json.loads(payload))``, the least any take-in must do with the same row.

Differential safety net: ``--record PATH`` writes today's results, ``--compare
PATH`` checks them: every case of the corpus judged at several instants, plus
synthetic cases around the 2025–2027 holidays (several zones with and without
DST, a center override calendar, a year without official data, exact repeats,
simultaneous events, instants on local midnights), every check_row result of
the corpus rows and of mangled variants of them (text timestamps, naive ones,
other payload types, bad rows), and working-day arithmetic over 2019–2028 for
each calendar. Everything is compared by its full ``repr`` (every field, the
tzinfo of every instant). Any difference is a bug.

    .venv/bin/python bench/judge.py                       # timings
    .venv/bin/python bench/judge.py --record /tmp/judge-golden.pickle.xz
    .venv/bin/python bench/judge.py --compare /tmp/judge-golden.pickle.xz

PostgreSQL from BENCH_PG_URL (default: the local server, user postgres).
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import os
import pickle
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ingest.source import read_batch
from ingest.tailer import Cursor
from rules.calendar import WorkCalendar
from rules.clocks import Item, judge_case
from rules.events import Event, check_row
from rules.official_days import OFFICIAL_YEARS

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, tzinfo=TZ)
# Instants the corpus is judged at for the golden file: the end, local midnights, mid-history, far ahead.
CORPUS_INSTANTS = [
    NOW,
    datetime(2026, 11, 10, tzinfo=TZ),
    datetime(2026, 11, 1, 12, 0, tzinfo=TZ),
    datetime(2026, 10, 25, 8, 30, tzinfo=TZ),
    datetime(2026, 11, 16, 23, 59, 59, 999999, tzinfo=TZ),
    datetime(2027, 1, 15, tzinfo=TZ),  # after the data, in a year with no official notice
]


# --- the corpus ------------------------------------------------------------------
DEFAULT_CORPUS = "bench_ingest_x_0_1_30"


def _ensure_default_corpus() -> None:
    """Write the default corpus the way bench/ingest.py does (and keeps), if it is not there yet."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    bench_ingest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_ingest)
    bench_ingest.exchange_database(0.1, 30, "2026-11-20T00:00:00+08:00")


def load_corpus(database: str) -> tuple[list[tuple], dict[str, Item]]:
    """The exchange rows as the ingest reads them (binary, instants in UTC, payload as text), and the items."""
    engine = create_engine(make_url(PG_URL).set(database=database))
    try:
        rows = read_batch(engine, "case_events", Cursor(), 10**9).rows
        with engine.connect() as conn:
            items = {
                r.item_code: Item(
                    r.item_code,
                    int(r.promised_days),
                    int(r.statutory_days),
                    str(r.day_unit),
                    r.fee_yuan if isinstance(r.fee_yuan, Decimal) else Decimal(0),
                    r.dept_id,
                )
                for r in conn.execute(text("SELECT * FROM items"))
            }
    finally:
        engine.dispose()
    return rows, items


def cases_of(events: list[Event]) -> dict[str, list[Event]]:
    by_case: dict[str, list[Event]] = {}
    for e in events:
        by_case.setdefault(e.case_no, []).append(e)
    return by_case


def item_of(events: list[Event], items: dict[str, Item]) -> Item | None:
    received = [e for e in events if e.kind == "received"]
    if not received:
        return None
    return items.get(min(received, key=lambda e: (e.occurred_at, e.event_id)).item_code)


# --- timing ----------------------------------------------------------------------
def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def measure(rows, items, repeat: int) -> None:
    calendar = WorkCalendar()
    events = [r for r in (check_row(*row, known_items=items, tz=TZ) for row in rows) if isinstance(r, Event)]
    cases = [(evs, item) for evs in cases_of(events).values() if (item := item_of(evs, items)) is not None]
    decode = json.JSONDecoder().decode

    def check_all():
        for row in rows:
            check_row(*row, known_items=items, tz=TZ)

    def build_all():
        for row in rows:
            Event(*row[:11], decode(row[11]) if row[11] is not None else {})

    def judge_all():
        for evs, item in cases:
            judge_case(evs, item, calendar, NOW, TZ)

    def sort_all():
        for evs, _item in cases:
            sorted(evs, key=lambda e: (e.occurred_at, e.event_id))

    judge_all()  # warm: the calendar's caches are per process and kept by the ingest too
    results = {"check": [], "build": [], "judge": [], "sort": []}
    for _ in range(repeat):
        results["build"].append(_cpu(build_all))
        results["check"].append(_cpu(check_all))
        results["sort"].append(_cpu(sort_all))
        results["judge"].append(_cpu(judge_all))
    n_rows, n_cases = len(rows), len(cases)
    med = {k: statistics.median(v) for k, v in results.items()}
    check_ratio = statistics.median(c / b for c, b in zip(results["check"], results["build"]))
    judge_ratio = statistics.median(j / s for j, s in zip(results["judge"], results["sort"]))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {repeat} rounds, medians (CPU time)")
    print(
        f"check_row:  {n_rows} rows,  {med['check'] / n_rows * 1e6:7.2f} µs/row;  "
        f"baseline (build Event) {med['build'] / n_rows * 1e6:6.2f} µs/row;  ratio {check_ratio:6.2f}"
    )
    print(
        f"judge_case: {n_cases} cases, {med['judge'] / n_cases * 1e6:7.2f} µs/case; "
        f"baseline (sort events) {med['sort'] / n_cases * 1e6:6.2f} µs/case; ratio {judge_ratio:6.2f}"
    )


# --- synthetic cases around holidays ------------------------------------------------
SYN_ZONES = [
    TZ,
    TZ,
    timezone(timedelta(hours=8)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    UTC,
    ZoneInfo("America/Havana"),
    ZoneInfo("America/Santiago"),
]  # midnights in gaps and folds
SYN_ORIGINS = [
    date(2025, 9, 18),
    date(2025, 12, 20),
    date(2026, 1, 28),
    date(2026, 4, 22),
    date(2026, 9, 12),
    date(2026, 12, 15),
    date(2019, 12, 18),
    date(2026, 3, 1),
    date(2026, 10, 25),
    date(2026, 8, 30),
    date(2026, 3, 28),
]  # (the last four: DST changes in New York, Havana, Santiago)
DST_ZONES = [ZoneInfo("America/Havana"), ZoneInfo("America/Santiago"), ZoneInfo("America/New_York")]
DST_ORIGINS = [
    date(2026, 3, 1),
    date(2026, 3, 5),
    date(2026, 10, 26),
    date(2026, 10, 29),
    date(2026, 8, 31),
    date(2026, 9, 3),
    date(2026, 3, 30),
    date(2026, 4, 2),
]
SYN_ITEMS = [
    Item("W5", 5, 20, "working", Decimal("0"), "D-ITEM"),
    Item("N10", 10, 20, "natural", Decimal("50"), "D-ITEM"),
    Item("W0", 0, 0, "working", Decimal("0"), None),
    Item("W1", 1, 3, "working", Decimal("12.5"), "D-ITEM", warn_days=3),
    Item("N1", 1, 0, "natural", Decimal("0"), "D-ITEM", warn_days=1),
    Item("W20", 20, 60, "working", Decimal("0"), "D-ITEM", warn_days=0),
    Item("N30", 30, 45, "natural", Decimal("0"), None, warn_days=5),
]
SYN_KINDS = (
    ["accepted"] * 3
    + ["correction_notice"] * 2
    + [
        "correction_received",
        "step_started",
        "step_started",
        "step_completed",
        "step_completed",
        "special_started",
        "special_ended",
        "extended",
        "completed",
        "delivered",
        "rejected",
        "withdrawn",
        "received",
    ]
)


def _payload(kind: str, rnd: random.Random) -> dict:
    match kind:
        case "rejected":
            return {"reason": "材料不符"}
        case "step_started":
            return {"step_id": rnd.choice("abc"), "limit_days": rnd.randint(0, 8), "level": "city"}
        case "step_completed":
            return {"step_id": rnd.choice("abc")}
        case "special_started":
            return {"special_id": rnd.choice("hk"), "type": "hearing", "limit_days": rnd.randint(0, 8)}
        case "special_ended":
            return {"special_id": rnd.choice("hk")}
        case "extended":
            return {"days": rnd.randint(1, 6)}
        case "completed":
            p = {"result": rnd.choice(["approved", "approved", "denied"])}
            fee = rnd.choice([None, 0, 60, "12.50", 12.5, "13"])
            if fee is not None:
                p["fee_charged"] = fee
            return p
        case "received":
            return {"channel": "window", "applicant_phone": "13800000000"}
    return {}


def synthetic_calendars() -> list[WorkCalendar]:
    override = WorkCalendar(
        extra_closures=[date(2026, 2, 13), date(2026, 10, 9), date(2025, 9, 30), date(2026, 4, 29)],
        extra_working_days=[date(2026, 10, 11), date(2026, 2, 22), date(2026, 10, 4), date(2025, 10, 12)],
    )
    short = WorkCalendar([y for y in OFFICIAL_YEARS if y.year <= 2025])  # 2026 falls back to Monday–Friday
    # Sundays on which clocks change at midnight (Havana, Santiago) or at night (New York, London), opened:
    # due dates and warnings fall on days whose midnight happens twice or never.
    dst = WorkCalendar(
        extra_working_days=[
            date(2026, 3, 8),
            date(2026, 11, 1),
            date(2026, 9, 6),
            date(2026, 4, 5),
            date(2026, 3, 29),
            date(2026, 10, 25),
            date(2026, 3, 7),
            date(2026, 4, 4),
        ]
    )
    return [WorkCalendar(), override, short, dst]


def synthetic_cases(n: int, seed: int = 20261120):
    """(events, item, calendar index, tz, instants) for n random cases around holidays."""
    rnd = random.Random(seed)
    ids = iter(range(10**9, 2 * 10**9))
    for i in range(n):
        stress = (
            i % 6 == 0
        )  # a zone whose clocks change at midnight, a few days before, on the calendar opening that day
        tz = rnd.choice(DST_ZONES if stress else SYN_ZONES)
        origin = datetime.combine(rnd.choice(DST_ORIGINS if stress else SYN_ORIGINS), datetime.min.time(), tzinfo=tz)

        def moment(base: datetime, span_days: float) -> datetime:
            r = rnd.random()
            if r < 0.15:  # on a local midnight
                day = (base + timedelta(days=rnd.uniform(0, span_days))).astimezone(tz).date()
                return datetime.combine(day, datetime.min.time(), tzinfo=tz)
            if r < 0.25:  # the last microsecond of a local day
                day = (base + timedelta(days=rnd.uniform(0, span_days))).astimezone(tz).date()
                return datetime.combine(day, datetime.max.time(), tzinfo=tz)
            return base + timedelta(minutes=15 * rnd.randint(0, int(span_days * 96)))

        # Instants as a database gives them (all in one fixed zone), or each shown its own way.
        uniform = rnd.choice([UTC, UTC, timezone(timedelta(hours=8)), tz, None, None])

        def shown(instant: datetime) -> datetime:  # the same instant, in another representation
            if uniform is not None:
                return instant.astimezone(uniform)
            return instant.astimezone(rnd.choice([UTC, tz, timezone(timedelta(hours=8)), TZ]))

        case_no = f"S{i}"
        item = rnd.choice(SYN_ITEMS)
        received_at = moment(origin, 12)
        place = lambda: (
            rnd.choice(["CTR", None]),
            rnd.choice(["D1", "D2", None]),
            rnd.choice(["W1", None]),
            rnd.choice(["S1", "S2", None]),
        )
        events = [
            Event(
                next(ids),
                case_no,
                "received",
                shown(received_at),
                received_at,
                "sim",
                *place(),
                item.item_code,
                _payload("received", rnd),
            )
        ]
        for _ in range(rnd.randint(0, 12)):
            kind = rnd.choice(SYN_KINDS)
            if rnd.random() < 0.1 and len(events) > 1:  # simultaneous with an earlier event
                when = rnd.choice(events).occurred_at
            else:
                when = moment(received_at, 40)
            events.append(
                Event(
                    next(ids),
                    case_no,
                    kind,
                    shown(when),
                    when,
                    "sim",
                    *place(),
                    item.item_code if kind == "received" else None,
                    _payload(kind, rnd),
                )
            )
            if rnd.random() < 0.08:  # an exact repeat: another id, the instant shown otherwise, keys reordered
                e = events[-1]
                events.append(
                    replace(
                        e,
                        event_id=next(ids),
                        occurred_at=shown(e.occurred_at),
                        payload=dict(reversed(list(e.payload.items()))),
                    )
                )
        rnd.shuffle(events)
        some = rnd.choice(events).occurred_at
        instants = [
            moment(received_at, 45).astimezone(rnd.choice([tz, UTC, timezone(timedelta(hours=8))])),
            datetime.combine(
                (received_at + timedelta(days=rnd.randint(0, 30))).astimezone(tz).date(), datetime.min.time(), tzinfo=tz
            ),
            some,
            some - timedelta(microseconds=1),
            received_at + timedelta(days=400),
        ]
        yield events, item, 3 if stress else rnd.randrange(4), tz, instants


# --- check_row variants ------------------------------------------------------------
def mangled_rows(rows: list[tuple], n: int, seed: int = 7):
    """(row, tz): corpus rows with their values shown otherwise, and bad rows."""
    rnd = random.Random(seed)
    zones = [TZ, ZoneInfo("America/New_York"), UTC]
    stamp_forms = [
        lambda d: d,
        lambda d: d.isoformat(),
        lambda d: d.astimezone(TZ).replace(tzinfo=None),  # a naive datetime: local
        lambda d: d.astimezone(TZ).replace(tzinfo=None).isoformat(sep=" "),  # SQLite text, no offset
        lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        lambda d: f"  {d.isoformat()} ",
        lambda d: d.astimezone(ZoneInfo("America/New_York")),
        lambda d: d.date().isoformat(),  # a bare date: refused
        lambda d: "infinity",
        lambda d: None,
        lambda d: 12345,
        lambda d: d + timedelta(minutes=rnd.choice([10, 11, 600, 3000, 100000])),
        lambda d: datetime(2026, 3, 8, 2, 30),  # nonexistent in New York
        lambda d: datetime(2026, 11, 1, 1, 30, fold=rnd.randint(0, 1)),  # ambiguous in New York
    ]
    bad_payloads = [
        None,
        "null",
        "[]",
        '"x"',
        "1",
        "true",
        "{",
        '{"a": }',
        "\ufeff{}",
        "\ufeff[]",
        " {} ",
        b"{}",
        bytearray(b'{"step_id": "a", "limit_days": 2}'),
        b"\xff\xfe",
        {"x": 1},
        [],
        3,
        2.5,
        '{"step_id": 1, "limit_days": 2}',
        '{"step_id": "  ", "limit_days": 2}',
        '{"step_id": "a", "limit_days": true}',
        '{"step_id": "a", "limit_days": -1}',
        '{"step_id": "a", "limit_days": "3"}',
        '{"step_id": "a"}',
        '{"special_id": "h", "type": "hearing", "limit_days": 0}',
        '{"special_id": "h", "limit_days": 0}',
        '{"days": 0}',
        '{"days": 1}',
        '{"days": 2.0}',
        '{"result": "Approved"}',
        '{"result": "approved"}',
        '{"result": "denied", "fee_charged": "12.50"}',
        '{"result": "approved", "fee_charged": "abc"}',
        '{"result": "approved", "fee_charged": -1}',
        '{"result": "approved", "fee_charged": "NaN"}',
        '{"result": "approved", "fee_charged": Infinity}',
        '{"result": "approved", "fee_charged": true}',
        '{"result": "approved", "fee_charged": null}',
        '{"reason": "x"}',
        '{"reason": ""}',
        '{"special_id": "k"}',
        '{"a": NaN}',
        '{"a": 1, "a": 2}',
        '{"x": "' + "长" * 80 + '"}',
        '{"note": "a\\u0000b"}',
        '{"note": "a\\\\u0000b"}',
        {"note": ["a\x00"]},
        '{"a\\u0000": 1}',
        '{"note": "a\x00"}',
    ]
    for _ in range(n):
        row = list(rnd.choice(rows))
        r = rnd.random()
        if r < 0.5:
            if isinstance(row[3], datetime):
                row[3] = rnd.choice(stamp_forms)(row[3])
            if isinstance(row[4], datetime):
                row[4] = rnd.choice(stamp_forms[:7])(row[4])
        elif r < 0.75:
            row[11] = rnd.choice(bad_payloads)
            row[2] = rnd.choice(
                [
                    "step_started",
                    "special_started",
                    "extended",
                    "completed",
                    "rejected",
                    "step_completed",
                    "special_ended",
                    "accepted",
                    row[2],
                ]
            )
        elif r < 0.9:
            i = rnd.choice([1, 2, 5, 6, 7, 8, 9, 10])
            row[i] = rnd.choice([None, "", "  ", 17, "Accepted", "received", "nope", b"x", "a\x00b", "\x00"])
            if i == 10:
                row[2] = "received"
        else:
            row[11] = json.loads(row[11]) if isinstance(row[11], str) else row[11]  # a dict, as a driver may give
        yield tuple(row), rnd.choice(zones)


# --- golden file ---------------------------------------------------------------------
def _judgement_repr(j, calendar, now, tz) -> str:
    if j is None:
        return "None"
    today = now.astimezone(tz).date()
    left = [c.working_days_left(today) for c in j.clocks]
    return f"{j!r}|{left!r}|{j.alarm_kinds!r}|{[c.paused for c in j.clocks]!r}"


def golden(rows, items) -> dict[str, dict]:
    """Every result this run produces, by a stable key, as its full repr."""
    out: dict[str, dict] = {"check": {}, "judge": {}, "calendar": {}, "notes": {}}
    events = []
    for row in rows:
        result = check_row(*row, known_items=items, tz=TZ)
        out["check"][f"row:{row[0]}"] = repr(result)
        if isinstance(result, Event):
            events.append(result)
    for k, (row, tz) in enumerate(mangled_rows(rows, 60_000)):
        out["check"][f"mangled:{k}"] = repr(check_row(*row, known_items=items, tz=tz))
    print(f"check_row: {len(out['check'])} results", flush=True)
    calendar = WorkCalendar()
    for case_no, evs in sorted(cases_of(events).items()):
        item = item_of(evs, items)
        if item is None:
            continue
        for k, now in enumerate(CORPUS_INSTANTS):
            out["judge"][f"{case_no}@{k}"] = _judgement_repr(
                judge_case(evs, item, calendar, now, TZ), calendar, now, TZ
            )
    print(f"judge_case corpus: {len(out['judge'])} judgements", flush=True)
    calendars = synthetic_calendars()
    for case_index, (evs, item, cal_index, tz, instants) in enumerate(synthetic_cases(30_000)):
        cal = calendars[cal_index]
        for k, now in enumerate(instants):
            out["judge"][f"syn{case_index}@{k}"] = _judgement_repr(judge_case(evs, item, cal, now, tz), cal, now, tz)
    print(f"judge_case total: {len(out['judge'])} judgements", flush=True)
    for ci, cal in enumerate([*calendars, calendar]):
        out["notes"][f"fallback:{ci}"] = repr(sorted(cal.fallback_years_used))
    for ci, cal in enumerate(synthetic_calendars()):
        day = date(2019, 11, 1)
        while day <= date(2028, 2, 28):
            values = [
                cal.is_working_day(day),
                cal.working_index(day),
                cal.next_working_day(day),
                [cal.add_working(day, n) for n in range(0, 31)],
                [cal.sub_working(day, n) for n in range(1, 11)],
                [cal.add_natural(day, n) for n in range(0, 41)],
                cal.working_days_between(day, day + timedelta(days=17)),
            ]
            out["calendar"][f"{ci}:{day}"] = repr(values)
            day += timedelta(days=1)
        out["notes"][f"calendar-fallback:{ci}"] = repr(sorted(cal.fallback_years_used))
    print(f"calendar: {len(out['calendar'])} days", flush=True)
    return out


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = Counter()

    def emit(self, record):
        self.seen[record.getMessage()] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database",
        default=DEFAULT_CORPUS,
        help="exchange database (read only); the default is written first if missing",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median reported)")
    parser.add_argument("--record", type=Path, help="write today's results here (xz pickle)")
    parser.add_argument("--compare", type=Path, help="compare with results written by --record")
    args = parser.parse_args()
    if args.database == DEFAULT_CORPUS:
        _ensure_default_corpus()
    rows, items = load_corpus(args.database)
    if not (args.record or args.compare):
        measure(rows, items, args.repeat)
        return
    warnings = _Warnings()
    logging.getLogger("rules").addHandler(warnings)
    results = golden(rows, items)
    results["notes"]["warnings"] = repr(sorted(warnings.seen.items()))
    if args.record:
        with lzma.open(args.record, "wb", preset=6) as f:
            pickle.dump(results, f)
        print(f"recorded {sum(len(v) for v in results.values())} results in {args.record}")
        return
    with lzma.open(args.compare, "rb") as f:
        expected = pickle.load(f)
    differences = 0
    for part, values in expected.items():
        got = results.get(part, {})
        if got.keys() != values.keys():
            print(f"{part}: keys differ ({len(got)} vs {len(values)})")
            differences += 1
        for key, value in values.items():
            if got.get(key) != value:
                differences += 1
                if differences <= 5:
                    print(f"DIFFERENT {part} {key}:\n  expected {value}\n  got      {got.get(key)}")
    counts = ", ".join(f"{len(v)} {k}" for k, v in expected.items())
    print(f"compared {counts}: {differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
