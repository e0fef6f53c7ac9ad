"""judge_case: due dates, status and alarms of whole cases, worked out by hand.

Calendar facts used below (国办发明电〔2025〕7号): National Day 2026 is 10-01..10-07 with
make-up Sunday 09-20 and Saturday 10-10; Mid-Autumn 09-25..27; Spring Festival 2026 is
02-15..02-23 with make-up Saturdays 02-14 and 02-28. 2026-03-02 is a Monday.
"""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from rules.clocks import CaseFigures, case_figures, judge_case
from tests.rules.builders import CAL, N10, TZ, W5, E, at, fact, judge

D = date.fromisoformat
W10 = replace(W5, item_code="W10", promised_days=10)
P1 = replace(W5, item_code="P1", promised_days=1)
P0 = replace(W5, item_code="P0", promised_days=0)

# received Monday 2026-09-28, accepted Tuesday 09-29: promise 5 → 10-12, statutory 20 → 11-02
BASIC = [E("received", "2026-09-28 09:00"), E("accepted", "2026-09-29 10:00")]
ONLY_RECEIVED = [E("received", "2026-09-28 09:00")]  # receipt clock: 5 working days → 10-10 (make-up Saturday)
CORRECTED = [
    E("received", "2026-09-28 09:00"),
    E("correction_notice", "2026-09-30 15:00", materials=["营业执照"]),  # in time
    E("correction_received", "2026-10-20 09:00"),
    E("accepted", "2026-10-20 10:00"),
]
PAUSED_W = [  # working-day item, hearing from Wednesday 03-04 to Friday 03-06: pause W(03-06) − W(03-04) = 2
    E("received", "2026-03-02 08:30"),
    E("accepted", "2026-03-02 09:00"),
    E("special_started", "2026-03-04 10:00", special_id="h1", type="hearing", limit_days=10),
    E("special_ended", "2026-03-06 16:00", special_id="h1"),
]
PAUSED_N = [  # natural-day item, 03-04 10:00 to Saturday 03-07 10:00: pause 3 calendar days
    E("received", "2026-03-02 08:30", item="N10"),
    E("accepted", "2026-03-02 09:00"),
    E("special_started", "2026-03-04 10:00", special_id="q1", type="quarantine", limit_days=10),
    E("special_ended", "2026-03-07 10:00", special_id="q1"),
]
SPRING = [E("received", "2026-02-12 09:00"), E("accepted", "2026-02-12 10:00")]
NATURAL_HOLIDAY = [E("received", "2026-09-21 09:00", item="N10"), E("accepted", "2026-09-21 10:00")]

# (why, events, now, item, status, start, deemed, promise_due, statutory_due, paused_days, extension_days)
JUDGEMENTS = [
    (
        "accepted on a working day",
        BASIC,
        "2026-09-29 12:00",
        W5,
        "accepted",
        "2026-09-29",
        False,
        "2026-10-12",
        "2026-11-02",
        0,
        0,
    ),
    # 10-10 is a make-up Saturday: it counts (09-30, 10-08, 10-09, 10-10, 10-12)
    (
        "National Day 2026 inside the limit",
        BASIC,
        "2026-10-12 12:00",
        W5,
        "accepted",
        "2026-09-29",
        False,
        "2026-10-12",
        "2026-11-02",
        0,
        0,
    ),
    # National Day 2025 (10-01..10-08): receipt 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10;
    # statutory 10-11 (make-up Saturday) and on to 10-30
    (
        "receipt clock across National Day 2025",
        [E("received", "2025-09-26 09:00")],
        "2025-10-11 00:00",
        W5,
        "accepted",
        "2025-09-26",
        True,
        "2025-10-10",
        "2025-10-30",
        0,
        0,
    ),
    (
        "one instant earlier it is not yet missed",
        [E("received", "2025-09-26 09:00")],
        "2025-10-10 23:59:59.999",
        W5,
        "received",
        None,
        False,
        None,
        None,
        0,
        0,
    ),
    (
        "before the receipt clock runs out: no start yet",
        ONLY_RECEIVED,
        "2026-10-10 23:59:59.999",
        W5,
        "received",
        None,
        False,
        None,
        None,
        0,
        0,
    ),
    # 第32条: 逾期不告知的，自收到申请材料之日起即为受理
    (
        "receipt clock missed: deemed accepted on the day of receipt",
        ONLY_RECEIVED,
        "2026-10-11 00:00",
        W5,
        "accepted",
        "2026-09-28",
        True,
        "2026-10-10",
        "2026-10-30",
        0,
        0,
    ),
    (
        "late acceptance does not move the start",
        BASIC[:1] + [E("accepted", "2026-10-12 10:00")],
        "2026-10-12 12:00",
        W5,
        "accepted",
        "2026-09-28",
        True,
        "2026-10-10",
        "2026-10-30",
        0,
        0,
    ),
    ("waiting for corrected materials", CORRECTED, "2026-10-19 12:00", W5, "correction", None, False, None, None, 0, 0),
    (
        "timely correction: the start is the acceptance day",
        CORRECTED,
        "2026-10-20 12:00",
        W5,
        "accepted",
        "2026-10-20",
        False,
        "2026-10-27",
        "2026-11-17",
        0,
        0,
    ),
    (
        "late correction notice: deemed accepted on receipt",
        ONLY_RECEIVED + [E("correction_notice", "2026-10-12 09:00")],
        "2026-10-12 12:00",
        W5,
        "accepted",
        "2026-09-28",
        True,
        "2026-10-10",
        "2026-10-30",
        0,
        0,
    ),
    (
        "extension of 3 days grows both clocks (第42条)",
        BASIC + [E("extended", "2026-10-09 10:00", days=3)],
        "2026-10-09 12:00",
        W5,
        "accepted",
        "2026-09-29",
        False,
        "2026-10-15",
        "2026-11-05",
        0,
        3,
    ),
    # an extension after the promise ran out cannot cure it; the statutory clock was still running
    (
        "extension after the promise overdue",
        BASIC + [E("extended", "2026-10-13 10:00", days=3)],
        "2026-10-13 12:00",
        W5,
        "accepted",
        "2026-09-29",
        False,
        "2026-10-12",
        "2026-11-05",
        0,
        0,
    ),
    (
        "special procedure open: clocks have no due date (第45条)",
        PAUSED_W,
        "2026-03-05 12:00",
        W5,
        "paused",
        "2026-03-02",
        False,
        None,
        None,
        0,
        0,
    ),
    (
        "special procedure ended: +2 working days",
        PAUSED_W,
        "2026-03-06 17:00",
        W5,
        "accepted",
        "2026-03-02",
        False,
        "2026-03-11",
        "2026-04-01",
        2,
        0,
    ),
    # 03-02 + 13 natural days = Sunday 03-15 → Monday 03-16; statutory 03-02 + 23 = Wednesday 03-25
    (
        "natural-day item: the pause is 3 calendar days",
        PAUSED_N,
        "2026-03-08 12:00",
        N10,
        "accepted",
        "2026-03-02",
        False,
        "2026-03-16",
        "2026-03-25",
        3,
        0,
    ),
    # 09-21 + 10 = 10-01 (National Day) → 10-08; 09-21 + 20 = Sunday 10-11 (not a make-up day) → 10-12
    (
        "natural-day due date lands in a holiday",
        NATURAL_HOLIDAY,
        "2026-09-22 12:00",
        N10,
        "accepted",
        "2026-09-21",
        False,
        "2026-10-08",
        "2026-10-12",
        0,
        0,
    ),
    # 02-13, 02-14 (make-up Saturday), then Spring Festival to 02-23, then 02-24, 25, 26
    (
        "Spring Festival 2026 inside the limit",
        SPRING,
        "2026-02-12 12:00",
        W5,
        "accepted",
        "2026-02-12",
        False,
        "2026-02-26",
        "2026-03-18",
        0,
        0,
    ),
    (
        "special procedure started before the start date does not pause",
        [
            E("received", "2026-02-26 09:00"),
            E("special_started", "2026-02-27 10:00", special_id="s0", type="site survey", limit_days=5),
            E("accepted", "2026-03-02 09:00"),  # receipt due 03-04 (02-28 is a make-up Saturday): in time
            E("special_ended", "2026-03-04 10:00", special_id="s0"),
        ],
        "2026-03-04 12:00",
        W5,
        "accepted",
        "2026-03-02",
        False,
        "2026-03-09",
        "2026-03-30",
        0,
        0,
    ),
    # each special adds its own W(end) − W(start), as the contract says: 3 + 1
    (
        "overlapping special procedures each add their length",
        [
            E("received", "2026-03-02 08:00"),
            E("accepted", "2026-03-02 09:00"),
            E("special_started", "2026-03-03 09:00", special_id="a", type="expert review", limit_days=10),
            E("special_started", "2026-03-04 09:00", special_id="b", type="public notice", limit_days=10),
            E("special_ended", "2026-03-05 09:00", special_id="b"),
            E("special_ended", "2026-03-06 09:00", special_id="a"),
        ],
        "2026-03-06 12:00",
        W5,
        "accepted",
        "2026-03-02",
        False,
        "2026-03-13",
        "2026-04-03",
        4,
        0,
    ),
    # the promise ran out at 03-10 00:00; a special starting 03-11 pauses only the statutory clock
    (
        "special procedure after the promise overdue",
        [
            E("received", "2026-03-02 08:00"),
            E("accepted", "2026-03-02 09:00"),
            E("special_started", "2026-03-11 10:00", special_id="h", type="hearing", limit_days=20),
        ],
        "2026-03-12 12:00",
        W5,
        "paused",
        "2026-03-02",
        False,
        "2026-03-09",
        None,
        0,
        0,
    ),
    (
        "rejected in time",
        [E("received", "2026-03-02 09:00"), E("rejected", "2026-03-03 10:00", reason="不属于本机关职权")],
        "2026-03-20 12:00",
        W5,
        "rejected",
        None,
        False,
        None,
        None,
        0,
        0,
    ),
    (
        "withdrawn",
        BASIC + [E("withdrawn", "2026-10-09 10:00")],
        "2026-10-20 12:00",
        W5,
        "withdrawn",
        "2026-09-29",
        False,
        "2026-10-12",
        "2026-11-02",
        0,
        0,
    ),
]


@pytest.mark.parametrize(
    "why, events, now, item, status, start, deemed, promise_due, statutory_due, paused, extended",
    JUDGEMENTS,
    ids=[row[0] for row in JUDGEMENTS],
)
def test_judgement(why, events, now, item, status, start, deemed, promise_due, statutory_due, paused, extended):
    j = judge(events, now, item)
    assert (j.status, j.start_date, j.deemed_accepted) == (status, start and D(start), deemed)
    assert (j.promise_due, j.statutory_due) == (promise_due and D(promise_due), statutory_due and D(statutory_due))
    assert (j.paused_days, j.extension_days) == (paused, extended)


def alarms_of(j):
    return {
        (
            f.kind,
            f.subject,
            f.fired_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            f.ended_at and f.ended_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        )
        for f in j.alarms
    }


def A(kind, subject, fired, ended=None):
    """(kind, subject, fired_at, ended_at) with times as local text, milliseconds optional."""
    pad = lambda t: (
        t if t is None or t.count(":") == 2 and "." in t else (t + ":00.000" if t.count(":") == 1 else t + ".000")
    )
    return (kind, subject, pad(fired), pad(ended))


STEPS = [
    E("received", "2026-03-02 08:00"),
    E("accepted", "2026-03-02 09:00"),
    # parallel approval (并联审批) at two departments
    E("step_started", "2026-03-02 10:00", dept="D-A", window=None, staff="A1", step_id="a", limit_days=3),  # due 03-05
    E("step_started", "2026-03-02 11:00", dept="D-B", window=None, staff="B1", step_id="b", limit_days=5),  # due 03-09
    E("step_completed", "2026-03-05 17:00", dept="D-A", step_id="a"),  # in time
    E("step_completed", "2026-03-10 09:00", dept="D-B", step_id="b"),  # a day late
]
VERTICAL = [
    E("received", "2026-03-02 08:00"),
    E("accepted", "2026-03-02 09:00"),
    E("step_started", "2026-03-02 10:00", dept="D-COUNTY", step_id="county", level="county", limit_days=2),  # due 03-04
    E("step_completed", "2026-03-04 16:00", dept="D-COUNTY", step_id="county"),
    E("step_started", "2026-03-05 09:00", dept="D-CITY", step_id="city", level="city", limit_days=3),  # due 03-10
    E("step_started", "2026-03-06 09:00", dept="D-SURVEY", step_id="survey", limit_days=1),  # nested, due 03-09
    E("step_completed", "2026-03-10 09:00", dept="D-SURVEY", step_id="survey"),
    E("step_completed", "2026-03-10 15:00", dept="D-CITY", step_id="city"),
]

# (why, events, now, item, expected alarms)
ALARMS = [
    ("nothing due yet", BASIC, "2026-10-09 23:59:59.999", W5, set()),
    # warn_days 2: one working day before the due date 10-12 is the make-up Saturday 10-10
    (
        "promise warning on a make-up Saturday",
        BASIC,
        "2026-10-10 00:00",
        W5,
        {A("promise_warning", "", "2026-10-10 00:00")},
    ),
    (
        "red supersedes yellow",
        BASIC,
        "2026-10-13 00:00",
        W5,
        {
            A("promise_warning", "", "2026-10-10 00:00", "2026-10-13 00:00"),
            A("promise_overdue", "", "2026-10-13 00:00"),
        },
    ),
    (
        "statutory overdue too",
        BASIC,
        "2026-11-03 00:00",
        W5,
        {
            A("promise_warning", "", "2026-10-10 00:00", "2026-10-13 00:00"),
            A("promise_overdue", "", "2026-10-13 00:00"),
            A("statutory_overdue", "", "2026-11-03 00:00"),
        },
    ),
    (
        "completed at 23:59:59.999 on the due date is on time",
        BASIC + [E("completed", "2026-10-12 23:59:59.999", result="denied")],
        "2026-11-20 00:00",
        W5,
        {A("promise_warning", "", "2026-10-10 00:00", "2026-10-12 23:59:59.999")},
    ),
    (
        "completed at 00:00 the next day is late",
        BASIC + [E("completed", "2026-10-13 00:00", result="denied")],
        "2026-11-20 00:00",
        W5,
        {
            A("promise_warning", "", "2026-10-10 00:00", "2026-10-13 00:00"),
            A("promise_overdue", "", "2026-10-13 00:00", "2026-10-13 00:00"),
        },
    ),
    (
        "receipt clock missed",
        ONLY_RECEIVED,
        "2026-10-11 00:00",
        W5,
        {A("receipt_unprocessed", "", "2026-10-11 00:00"), A("promise_overdue", "", "2026-10-11 00:00")},
    ),
    (
        "receipt clock missed, answered late by acceptance",
        BASIC[:1] + [E("accepted", "2026-10-12 10:00")],
        "2026-10-12 12:00",
        W5,
        {
            A("receipt_unprocessed", "", "2026-10-11 00:00", "2026-10-12 10:00"),
            A("promise_overdue", "", "2026-10-11 00:00"),
        },
    ),
    (
        "late correction notice",
        ONLY_RECEIVED + [E("correction_notice", "2026-10-12 09:00")],
        "2026-10-12 12:00",
        W5,
        {
            A("receipt_unprocessed", "", "2026-10-11 00:00", "2026-10-12 09:00"),
            A("correction_late", "", "2026-10-12 09:00"),
            A("promise_overdue", "", "2026-10-11 00:00"),
        },
    ),
    (
        "correction notice repeated: one alarm per day of notice",
        [
            E("received", "2026-03-02 09:00"),
            E("correction_notice", "2026-03-03 10:00"),
            E("correction_notice", "2026-03-05 11:00"),
            E("correction_notice", "2026-03-05 15:00"),
            E("correction_notice", "2026-03-09 09:00"),
        ],
        "2026-03-09 12:00",
        W5,
        {
            A("correction_repeated", "2026-03-05", "2026-03-05 11:00"),
            A("correction_repeated", "2026-03-09", "2026-03-09 09:00"),
        },
    ),
    ("timely correction then acceptance: nothing", CORRECTED, "2026-10-25 23:59", W5, set()),
    (
        "timely correction: warning one day before 10-27",
        CORRECTED,
        "2026-10-26 00:00",
        W5,
        {A("promise_warning", "", "2026-10-26 00:00")},
    ),
    # extension on 10-09 moves the due date to 10-15 before the warning day 10-10 came
    (
        "extension before the warning",
        BASIC + [E("extended", "2026-10-09 10:00", days=3)],
        "2026-10-14 00:00",
        W5,
        {A("promise_warning", "", "2026-10-14 00:00")},
    ),
    (
        "extension after the warning ends that warning",
        BASIC + [E("extended", "2026-10-10 10:00", days=3)],
        "2026-10-11 00:00",
        W5,
        {A("promise_warning", "", "2026-10-10 00:00", "2026-10-10 10:00")},
    ),
    (
        "and the warning comes back before the new due date",
        BASIC + [E("extended", "2026-10-10 10:00", days=3)],
        "2026-10-14 01:00",
        W5,
        {A("promise_warning", "", "2026-10-14 00:00")},
    ),
    (
        "a late extension does not cure an overdue",
        BASIC + [E("extended", "2026-10-13 10:00", days=3)],
        "2026-10-14 00:00",
        W5,
        {
            A("promise_warning", "", "2026-10-10 00:00", "2026-10-13 00:00"),
            A("promise_overdue", "", "2026-10-13 00:00"),
        },
    ),
    ("paused clocks raise nothing", PAUSED_W[:3], "2026-03-12 00:00", W5, set()),
    (
        "special procedure overdue; its pause moves the promise",
        [
            E("received", "2026-03-02 08:00"),
            E("accepted", "2026-03-02 09:00"),
            E(
                "special_started", "2026-03-03 10:00", dept="D-LAB", special_id="t1", type="testing", limit_days=2
            ),  # due 03-05
            E("special_ended", "2026-03-09 10:00", dept="D-LAB", special_id="t1"),  # pause 4 → promise due 03-13
        ],
        "2026-03-13 12:00",
        W5,
        {
            A("special_overdue", "t1", "2026-03-06 00:00", "2026-03-09 10:00"),
            A("promise_warning", "", "2026-03-12 00:00"),
        },
    ),
    # due 03-09; a hearing 03-09 10:00 to Saturday 03-14 10:00 adds 4 → due Friday 03-13, already past on resuming
    (
        "resuming with the due date already past fires at once",
        [
            E("received", "2026-03-02 08:00"),
            E("accepted", "2026-03-02 09:00"),
            E("special_started", "2026-03-09 10:00", special_id="h", type="hearing", limit_days=10),
            E("special_ended", "2026-03-14 10:00", special_id="h"),
        ],
        "2026-03-15 00:00",
        W5,
        {
            A("promise_warning", "", "2026-03-06 00:00", "2026-03-09 10:00"),
            A("promise_overdue", "", "2026-03-14 10:00"),
        },
    ),
    (
        "parallel steps at two departments",
        STEPS,
        "2026-03-10 12:00",
        W10,
        {A("step_overdue", "b", "2026-03-10 00:00", "2026-03-10 09:00")},
    ),
    (
        "vertical and nested steps",
        VERTICAL,
        "2026-03-11 00:00",
        W10,
        {A("step_overdue", "survey", "2026-03-10 00:00", "2026-03-10 09:00")},
    ),
    # a hearing 03-03..03-05 pauses the step started 03-02 (limit 3 → 03-05) by 2 → 03-09
    (
        "a step is paused by a special procedure",
        [
            E("received", "2026-03-02 08:00"),
            E("accepted", "2026-03-02 09:00"),
            E("step_started", "2026-03-02 10:00", step_id="s", limit_days=3),
            E("special_started", "2026-03-03 09:00", special_id="h", type="hearing", limit_days=10),
            E("special_ended", "2026-03-05 17:00", special_id="h"),
        ],
        "2026-03-10 00:00",
        W10,
        {A("step_overdue", "s", "2026-03-10 00:00")},
    ),
    # delivery within add_working(09-29, 10) = 10-19 (10-10 is a make-up Saturday)
    (
        "delivery overdue after an approved completion",
        BASIC[:1] + [E("accepted", "2026-09-28 10:00"), E("completed", "2026-09-29 10:00", result="approved")],
        "2026-10-20 00:00",
        W5,
        {A("delivery_overdue", "", "2026-10-20 00:00")},
    ),
    (
        "delivered on the due date",
        BASIC[:1]
        + [
            E("accepted", "2026-09-28 10:00"),
            E("completed", "2026-09-29 10:00", result="approved"),
            E("delivered", "2026-10-19 18:00"),
        ],
        "2026-10-20 00:00",
        W5,
        set(),
    ),
    (
        "a denied completion has nothing to deliver",
        BASIC[:1] + [E("accepted", "2026-09-28 10:00"), E("completed", "2026-09-29 10:00", result="denied")],
        "2026-10-20 00:00",
        W5,
        set(),
    ),
    (
        "fee above the standard",
        NATURAL_HOLIDAY + [E("completed", "2026-09-22 10:00", result="approved", fee_charged=60)],
        "2026-09-22 12:00",
        N10,
        {A("fee_violation", "", "2026-09-22 10:00")},
    ),
    (
        "fee equal to the standard",
        NATURAL_HOLIDAY + [E("completed", "2026-09-22 10:00", result="approved", fee_charged="50.00")],
        "2026-09-22 12:00",
        N10,
        set(),
    ),
    (
        "completed without acceptance",
        [E("received", "2026-03-02 09:00"), E("completed", "2026-03-03 10:00", result="approved")],
        "2026-03-03 12:00",
        W5,
        {A("procedure_anomaly", "completed_without_acceptance", "2026-03-03 10:00")},
    ),
    (
        "accepted after rejection",
        [
            E("received", "2026-03-02 09:00"),
            E("rejected", "2026-03-03 10:00", reason="材料不全"),
            E("accepted", "2026-03-04 10:00"),
        ],
        "2026-03-20 12:00",
        W5,
        {A("procedure_anomaly", "accepted_after_rejection", "2026-03-04 10:00")},
    ),
    (
        "event after end",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("completed", "2026-03-05 10:00", result="denied"),
            E("step_started", "2026-03-06 10:00", step_id="x", limit_days=1),
        ],
        "2026-03-20 12:00",
        W5,
        {A("procedure_anomaly", "event_after_end", "2026-03-06 10:00")},
    ),
    (
        "special procedure ended without a start",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("special_ended", "2026-03-04 10:00", special_id="h9"),
        ],
        "2026-03-04 12:00",
        W5,
        {A("procedure_anomaly", "special_end_without_start", "2026-03-04 10:00")},
    ),
    (
        "step ended without a start",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("step_completed", "2026-03-04 10:00", step_id="s9"),
        ],
        "2026-03-04 12:00",
        W5,
        {A("procedure_anomaly", "step_end_without_start", "2026-03-04 10:00")},
    ),
    (
        "a step start pushed late but earlier in event time is no anomaly",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("step_completed", "2026-03-04 10:00", step_id="s"),
            E("step_started", "2026-03-03 10:00", recorded="2026-03-05 10:00", step_id="s", limit_days=3),
        ],
        "2026-03-05 12:00",
        W5,
        set(),
    ),
    (
        "duplicate completion",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("completed", "2026-03-05 10:00", result="denied"),
            E("completed", "2026-03-06 10:00", result="approved"),
        ],
        "2026-03-20 12:00",
        W5,
        {A("procedure_anomaly", "duplicate_completion", "2026-03-06 10:00")},
    ),
    (
        "an exact repeat is ignored, not a duplicate completion",
        [
            E("received", "2026-03-02 09:00"),
            E("accepted", "2026-03-02 10:00"),
            E("completed", "2026-03-05 10:00", result="denied"),
            E("completed", "2026-03-05 10:00", result="denied"),
        ],
        "2026-03-20 12:00",
        W5,
        set(),
    ),
    ("withdrawal stops every clock", BASIC + [E("withdrawn", "2026-10-09 10:00")], "2026-11-20 12:00", W5, set()),
    # promised 1 day: due 03-03; the warning day would be 03-02, before the clock's first day 03-03
    (
        "warning never before the first day of the clock",
        [E("received", "2026-03-02 09:00"), E("accepted", "2026-03-02 10:00")],
        "2026-03-03 00:00",
        P1,
        {A("promise_warning", "", "2026-03-03 00:00")},
    ),
    (
        "promised 0 days (即办): due the same day, no warning",
        [E("received", "2026-03-02 09:00"), E("accepted", "2026-03-02 10:00")],
        "2026-03-03 00:00",
        P0,
        {A("promise_overdue", "", "2026-03-03 00:00")},
    ),
    (
        "warn 3 working days ahead",
        BASIC,
        "2026-10-09 00:00",
        replace(W5, warn_days=3),
        {A("promise_warning", "", "2026-10-09 00:00")},
    ),
    ("warnings switched off", BASIC, "2026-10-12 12:00", replace(W5, warn_days=0), set()),
    # natural-day item: the warning day is still counted in working days before the due date 10-08
    (
        "natural-day item warning",
        NATURAL_HOLIDAY,
        "2026-09-30 00:00",
        N10,
        {A("promise_warning", "", "2026-09-30 00:00")},
    ),
]


@pytest.mark.parametrize("why, events, now, item, expected", ALARMS, ids=[row[0] for row in ALARMS])
def test_alarms(why, events, now, item, expected):
    assert alarms_of(judge(events, now, item)) == expected


def test_step_alarm_belongs_to_the_step_department():
    f = fact(judge(STEPS, "2026-03-10 12:00", W10), "step_overdue", "b")
    assert (f.center_id, f.dept_id, f.window_id, f.staff_id, f.due) == ("CTR", "D-B", None, "B1", D("2026-03-09"))


def test_case_alarms_belong_to_the_place_of_receipt():
    j = judge(BASIC, "2026-10-13 00:00")
    assert j.place == ("CTR", "D1", "W1", "S1")
    f = fact(j, "promise_overdue")
    assert (f.center_id, f.dept_id, f.window_id, f.staff_id, f.due, f.level) == (
        "CTR",
        "D1",
        "W1",
        "S1",
        D("2026-10-12"),
        "alarm",
    )
    assert fact(j, "promise_warning").level == "warning"


def test_item_department_fills_a_missing_one():
    j = judge(
        [E("received", "2026-03-02 09:00", dept=None), E("accepted", "2026-03-02 10:00", dept=None)], "2026-03-02 12:00"
    )
    assert j.place[1] == "D-ITEM"


@pytest.mark.parametrize(
    "completed_at, on_time",
    [
        ("2026-10-12 23:59:59.999", True),  # the last millisecond of the due date
        ("2026-10-13 00:00", False),  # 00:00 the next day: overdue
        ("2026-10-09 10:00", True),
    ],
)
def test_on_time_is_judged_against_the_promise(completed_at, on_time):
    j = judge(BASIC + [E("completed", completed_at, result="approved")], "2026-10-20 00:00")
    assert (j.status, j.on_time, j.completed_at, j.result) == ("completed", on_time, at(completed_at), "approved")


def test_on_time_is_none_while_open_and_for_cases_not_completed():
    assert judge(BASIC, "2026-10-20 00:00").on_time is None
    assert judge(BASIC + [E("withdrawn", "2026-10-09 10:00")], "2026-10-20 00:00").on_time is None


@pytest.mark.parametrize(
    "why, events, now, figures",
    [
        (
            "completed before the promise due date (10-12): early, 3 working days used",
            BASIC + [E("completed", "2026-10-09 10:00", result="approved")],
            "2026-10-20 00:00",
            CaseFigures(early=True, used_days=3, promised_days=5, corrections=0),
        ),
        (
            "completed on the due date itself: in time, not early",
            BASIC + [E("completed", "2026-10-12 23:59", result="approved")],
            "2026-10-20 00:00",
            CaseFigures(early=False, used_days=5, promised_days=5, corrections=0),
        ),
        (
            "open: neither early nor days used; the correction notice counts",
            CORRECTED,
            "2026-10-20 12:00",
            CaseFigures(early=None, used_days=None, promised_days=5, corrections=1),
        ),
        (
            "a correction notice after `now` is not known yet",
            CORRECTED,
            "2026-09-30 14:00",
            CaseFigures(early=None, used_days=None, promised_days=5, corrections=0),
        ),
    ],
)
def test_case_figures(why, events, now, figures):
    assert case_figures(judge(events, now), events, W5, CAL, at(now), TZ) == figures


def test_a_case_not_judged_yet_has_the_items_promised_days_and_nothing_else():
    assert case_figures(None, [], W5, CAL, at("2026-10-20 12:00"), TZ) == CaseFigures(None, None, 5, 0)


def test_completed_during_a_special_procedure_is_on_time():
    j = judge(PAUSED_W[:3] + [E("completed", "2026-03-18 10:00", result="denied")], "2026-03-21 00:00")
    assert j.on_time is True and j.alarms == ()  # the hearing (limit 10 → 03-18) stopped in time too


def test_replay_at_an_earlier_instant_ignores_later_events():
    events = BASIC + [E("completed", "2026-10-20 10:00", result="approved")]
    early = judge(events, "2026-10-11 00:00")
    assert (early.status, early.completed_at, early.on_time) == ("accepted", None, None)
    assert alarms_of(early) == {A("promise_warning", "", "2026-10-10 00:00")}
    late = judge(events, "2026-10-21 00:00")
    assert (late.status, late.on_time) == ("completed", False)


def test_events_in_any_order_give_the_same_judgement():
    events = STEPS + [E("completed", "2026-03-11 10:00", result="approved")]
    assert judge(events, "2026-03-30 00:00", W10) == judge(list(reversed(events)), "2026-03-30 00:00", W10)


def test_no_received_yet_means_no_judgement():
    assert judge([E("accepted", "2026-03-02 10:00")], "2026-03-05 00:00") is None
    assert judge(BASIC, "2026-09-28 08:59") is None  # before the case existed


@pytest.mark.parametrize(
    "events, now, next_change",
    [
        (BASIC, "2026-09-29 12:00", "2026-10-10 00:00"),  # the warning day
        (BASIC, "2026-10-10 01:00", "2026-10-13 00:00"),  # promise overdue
        (BASIC, "2026-10-13 01:00", "2026-11-03 00:00"),  # statutory overdue
        (BASIC, "2026-11-03 01:00", None),  # everything that can fire has fired
        (ONLY_RECEIVED, "2026-10-01 12:00", "2026-10-11 00:00"),  # the receipt clock
        (PAUSED_W[:3], "2026-03-05 12:00", "2026-03-19 00:00"),  # only the special-procedure clock runs
        (
            BASIC + [E("completed", "2026-10-09 10:00", result="approved")],
            "2026-10-09 12:00",
            "2026-10-23 00:00",
        ),  # delivery due 10-22 (10-10 counts)
        (CORRECTED[:2], "2026-10-01 12:00", None),  # waiting for the applicant: no clock runs
    ],
)
def test_next_change(events, now, next_change):
    assert judge(events, now).next_change == (next_change and at(next_change))


def test_judgement_does_not_change_before_next_change():
    events = BASIC
    j = judge(events, "2026-09-29 12:00")
    just_before = judge(events, "2026-10-09 23:59:59.999")
    assert (just_before.alarms, just_before.status, just_before.promise_due) == (j.alarms, j.status, j.promise_due)
    assert judge(events, "2026-10-10 00:00").alarms != j.alarms


def test_clocks_of_a_case():
    j = judge(STEPS, "2026-03-06 12:00", W10)
    names = [c.name for c in j.clocks]
    assert names == ["receipt", "promise", "statutory", "step:a", "step:b"]
    step_a, step_b = j.clock("step:a"), j.clock("step:b")
    assert (step_a.due, step_a.stopped_at, step_a.dept_id) == (D("2026-03-05"), at("2026-03-05 17:00"), "D-A")
    assert (step_b.due, step_b.stopped_at, step_b.dept_id) == (D("2026-03-09"), None, "D-B")
    assert step_b.working_days_left(D("2026-03-06")) == 1  # Friday → Monday
    assert step_a.working_days_left(D("2026-03-06")) is None  # stopped
    assert j.clock("receipt").due == D("2026-03-09")


def test_late_extension_counts_on_the_statutory_clock_only():
    j = judge(BASIC + [E("extended", "2026-10-13 10:00", days=3)], "2026-10-13 12:00")
    assert (j.clock("promise").extension_days, j.clock("statutory").extension_days) == (0, 3)


def test_a_paused_clock_has_no_working_days_left():
    j = judge(PAUSED_W[:3], "2026-03-05 12:00")
    assert j.clock("promise").paused and j.clock("promise").working_days_left(D("2026-03-05")) is None


def test_item_fee_is_compared_as_a_decimal():
    item = replace(N10, fee_yuan=0.7)  # a float from SQLite NUMERIC
    events = NATURAL_HOLIDAY + [E("completed", "2026-09-22 10:00", result="approved", fee_charged="0.70")]
    assert judge(events, "2026-09-22 12:00", item).alarm_kinds == []
    with pytest.raises(ValueError, match="day_unit"):
        replace(W5, day_unit="hours")


def test_tz_decides_the_local_date():
    # accepted 2026-03-01 17:00 UTC = Monday 03-02 01:00 in Beijing: the start date is 03-02, not Sunday 03-01
    accepted = replace(E("accepted", "2026-03-02 01:00"), occurred_at=datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    j = judge([E("received", "2026-03-02 00:30"), accepted], "2026-03-02 12:00")
    assert (j.start_date, j.promise_due) == (D("2026-03-02"), D("2026-03-09"))
    utc = judge_case([E("received", "2026-03-02 00:30"), accepted], W5, CAL, at("2026-03-02 12:00"), UTC)
    assert (utc.start_date, utc.promise_due) == (D("2026-03-01"), D("2026-03-06"))  # in UTC it was Sunday


def test_now_must_be_tz_aware():
    with pytest.raises(ValueError, match="tz-aware"):
        judge_case(BASIC, W5, CAL, datetime(2026, 10, 1), TZ)
