"""Small builders for case events in tests: local times written as text."""

from datetime import datetime
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from rules.calendar import WorkCalendar
from rules.clocks import Item, judge_case
from rules.events import Event

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()

# promised 5 / statutory 20 working days, free of charge
W5 = Item("W5", promised_days=5, statutory_days=20, day_unit="working", fee_yuan=Decimal("0"), dept_id="D-ITEM")
# promised 10 / statutory 20 natural days, 50 yuan
N10 = Item("N10", promised_days=10, statutory_days=20, day_unit="natural", fee_yuan=Decimal("50"), dept_id="D-ITEM")

_ids = count(1)


def at(text: str) -> datetime:
    """A local instant: '2026-03-02 09:00' or '2026-03-02 23:59:59.999'."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def E(
    kind: str,
    when: str,
    *,
    recorded: str | None = None,
    case_no: str = "C1",
    dept: str | None = "D1",
    window: str | None = "W1",
    staff: str | None = "S1",
    item: str | None = None,
    **payload,
) -> Event:
    """An event of case C1 at local time `when` (recorded at the same instant unless `recorded`)."""
    occurred = at(when)
    if kind == "received" and item is None:
        item = "W5"
    return Event(
        next(_ids),
        case_no,
        kind,
        occurred,
        at(recorded) if recorded else occurred,
        "test",
        "CTR",
        dept,
        window,
        staff,
        item,
        payload,
    )


def judge(events, now: str, item: Item = W5, calendar: WorkCalendar = CAL):
    return judge_case(list(events), item, calendar, at(now), TZ)


def fact(judgement, kind: str, subject: str = ""):
    """The alarm fact of `kind`/`subject` in a judgement, or None."""
    return next((f for f in judgement.alarms if (f.kind, f.subject) == (kind, subject)), None)


# Hypothesis strategies for the payload of each kind after `received` (valid, as check_row
# would accept them): shared by the property and differential tests.
def payload_strategies(fees=(0, 60)) -> dict:
    return {
        "correction_notice": st.just({}),
        "correction_received": st.just({}),
        "accepted": st.just({}),
        "rejected": st.just({"reason": "材料不符"}),
        "step_started": st.fixed_dictionaries({"step_id": st.sampled_from("ab"), "limit_days": st.integers(0, 6)}),
        "step_completed": st.fixed_dictionaries({"step_id": st.sampled_from("ab")}),
        "special_started": st.fixed_dictionaries(
            {"special_id": st.sampled_from("hk"), "type": st.just("hearing"), "limit_days": st.integers(0, 6)}
        ),
        "special_ended": st.fixed_dictionaries({"special_id": st.sampled_from("hk")}),
        "extended": st.fixed_dictionaries({"days": st.integers(1, 5)}),
        "completed": st.fixed_dictionaries(
            {"result": st.sampled_from(["approved", "denied"]), "fee_charged": st.sampled_from(list(fees))}
        ),
        "delivered": st.just({}),
        "withdrawn": st.just({}),
    }
