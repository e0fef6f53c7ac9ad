"""Hostile upstream text written into the web tests' small region: names of 100 KB and more, markup in a
center name, bidirectional controls, and case numbers made of the characters URLs and shells trip on.

Every string here could arrive from an approval system through the exchange database.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, update

from app.base.tables import alarm_actions, alarms
from tests.web.conftest import NOW, Region, add_case, make_region


def long_text(prefix: str, size: int = 100_000) -> str:
    """`prefix` then CJK and Latin words up to `size` characters (over 100 KB in UTF-8): no line breaks anywhere."""
    filler = "审批服务科室Approval-Office"
    return (prefix + filler * (size // len(filler) + 1))[:size]


LONG_DEPT = long_text("超长部门")
LONG_CENTER = long_text("超长中心", 60_000)
LONG_WINDOW = long_text("超长窗口", 40_000)
LONG_ITEM = long_text("超长事项", 80_000)
LONG_STAFF = long_text("超长人员", 30_000)
LONG_REASON = long_text("超长理由")
LINK_CENTER = '<a href="https://evil.example/">点此领奖</a>青秀区政务服务中心'
RLO = "\u202e"
BIDI_DEPT = f"市场监管局{RLO}局管监场市"

LONG_DEPT_ID = "GX-450102:MZ"  # the center user's and the department user's own department
BIDI_DEPT_ID = "GX-450102:SC"
CASE_DEPT_ID = "GX-450100:MZ"  # plain names, so a failure there is the case number's own

# Case numbers that must open and export like any other.
HOSTILE_CASE_NOS = {
    "space": "4501 MZ 0901",
    "quotes": "4501'MZ\"0902",
    "slash": "4501/MZ/0903",
    "slashes": "/4501//MZ/0904/",
    "percent": "4501%MZ%250905",
    "hash": "4501#MZ0906",
    "question": "4501?MZ=0907&x=1",
    "non_ascii": "南宁-民政-0908",
    "rtl": f"4501-{RLO}MZ-0909",
    "hebrew": "4501-אבג-0910",
    "dots": "..",
    "markup": "<b>4501</b>&amp;0911",
}


def add_hostile_text(region: Region) -> None:
    """Long, marked-up and bidirectional names in the exchange database; hostile case numbers with alarms."""
    from app.base import exchange as x
    from app.base.exchange import exchange_engine

    engine = exchange_engine(region.settings.exchange_url_resolved)
    with engine.begin() as conn:
        conn.execute(update(x.departments).where(x.departments.c.dept_id == LONG_DEPT_ID).values(name=LONG_DEPT))
        conn.execute(update(x.departments).where(x.departments.c.dept_id == BIDI_DEPT_ID).values(name=BIDI_DEPT))
        conn.execute(update(x.centers).where(x.centers.c.center_id == "GX-450200").values(name=LONG_CENTER))
        conn.execute(update(x.centers).where(x.centers.c.center_id == "GX-450103").values(name=LINK_CENTER))
        conn.execute(update(x.windows).where(x.windows.c.window_id == f"{LONG_DEPT_ID}:W1").values(label=LONG_WINDOW))
        conn.execute(update(x.items).where(x.items.c.item_code == f"ITEM-{LONG_DEPT_ID}").values(name=LONG_ITEM))
        conn.execute(update(x.staff).where(x.staff.c.staff_id == f"{LONG_DEPT_ID}:S1").values(name=LONG_STAFF))
    payloads = {
        "step_started": {"name": long_text("超长环节", 20_000)},
        "special_started": {"type": long_text("超长程序", 20_000)},
        "accepted": {"approved_by": LONG_STAFF, "reason": LONG_REASON, "materials": [LONG_REASON]},
        "completed": {"approved_by": f"张三{RLO}四李"},
    }
    long_case = add_case(region, LONG_DEPT_ID, 50, completed=True, payloads=payloads)
    region.hostile_case = long_case
    region.add_alarm(
        LONG_DEPT_ID,
        "step_overdue",
        "alarm",
        case_no=long_case,
        subject=long_text("S", 20_000),
        fired_at=NOW - timedelta(minutes=30),
    )
    with region.engine.begin() as conn:  # a long officer's note on that alarm
        alarm_id = region.alarm_ids[LONG_DEPT_ID][-1]
        conn.execute(
            insert(alarm_actions).values(
                alarm_id=alarm_id, action="urge", actor="region-user", note=LONG_REASON, at=NOW - timedelta(minutes=20)
            )
        )
        conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(urged_at=NOW - timedelta(minutes=20)))
    for number, (_name, case_no) in enumerate(HOSTILE_CASE_NOS.items(), start=60):
        add_case(region, CASE_DEPT_ID, number, completed=False, case_no=case_no)
        region.add_alarm(
            CASE_DEPT_ID, "promise_overdue", "alarm", case_no=case_no, fired_at=NOW - timedelta(minutes=number)
        )


def make_hostile_region(settings) -> Region:
    from app.kpi.aggregate import refresh

    region = make_region(settings)
    add_hostile_text(region)
    refresh(region.engine, settings.zone, region.now)  # the rankings name the long department, window, staff
    return region
