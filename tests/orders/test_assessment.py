"""The monthly assessment: the rules file checked in one line, scores from a month's data,
draft → locked → published, a locked month unchanged by late data (carried into the next),
manual adjustments audited; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select, update

from app.assessment import months
from app.base.tables import assessment_adjustments, audit_log, ratings
from rules.assessment import DEFAULT_RULES, RulesError, parse_rules, score_month

from .conftest import COUNTY, CST, actor, add_alarm, local

RULES = parse_rules(DEFAULT_RULES)
DEPTS = {"D1": COUNTY, "D2": COUNTY}
NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


@pytest.mark.parametrize(
    "text,message",
    [
        ("version = 1", "version must be a non-empty string"),
        ('version = "x"\n[deductions]\nalarm = "1.5"', "deductions.alarm must be a number"),
        ('version = "x"\n[deductions]\nred = 1', "unknown deduction 'red'"),
        ('version = "x"\n[deductions.kinds]\npromise_late = 1', "unknown alarm kind 'promise_late'"),
        ('version = "x"\n[deductions]\nalarm = -1', "must be 0 or more"),
        ('version = "x"\nbase = 100\nfloor = 100', "floor must be"),
        ('version = "x"\ncap = 5', "unknown key 'cap'"),
        ("version = ", "not TOML"),
    ],
)
def test_bad_rules_are_one_clear_line(text, message):
    with pytest.raises(RulesError, match=message) as caught:
        parse_rules(text)
    assert "\n" not in str(caught.value)


def test_default_rules_score_as_the_references_do():
    counts = {
        "dept:D1": {"kind:promise_warning": 2, "kind:promise_overdue": 2, "order": 1, "low_rating": 1},
        "center:" + COUNTY: {"center:not_supervised": 1},
    }
    scores = {s.unit: s for s in score_month(RULES, DEPTS, counts, adjustments={"dept:D2": [3, 4, -1]})}
    assert scores["dept:D1"].score == 100 - 2 * 1 - 2 * 1.5 - 0.5 - 1  # 黄牌 −1, 红牌 −1.5, 督办 −0.5, 不满意 −1
    assert scores["dept:D2"].score == 100 + 5 - 1  # bonuses capped at 5
    assert scores[f"center:{COUNTY}"].score == (93.5 + 104) / 2 - 1


def add_low_rating(db, at, dept="D1"):
    with db.begin() as conn:
        conn.execute(
            insert(ratings).values(
                source="onsite", source_id=at, center_id=COUNTY, dept_id=dept, score=20, rated_at=local(at)
            )
        )


def test_month_workflow_and_late_data(db):
    add_alarm(db, case_no="C1", fired="2026-11-03 00:00")  # red −1.5
    add_alarm(db, case_no="C2", fired="2026-11-04 00:00", level="warning", kind="promise_warning")  # −1
    add_alarm(db, case_no="C3", fired="2026-11-05 00:00", state="closed", closed_reason="revoked")  # counts nowhere
    add_alarm(db, case_no="C4", fired="2026-11-05 00:00", state="closed", closed_reason="retracted")  # nowhere
    add_alarm(db, case_no="C5", fired="2026-10-31 23:59")  # October, local time
    add_low_rating(db, "2026-11-20 10:00")
    scores = {s["unit"]: s for s in months.compute(db, NOV, RULES, DEPTS, CST, local("2026-12-01 08:00"))}
    assert scores["dept:D1"]["score"] == 100 - 1.5 - 1 - 1 and scores["dept:D2"]["score"] == 100
    months.adjust(db, NOV, "dept:D2", 2, "窗口服务获表扬", "region", local("2026-12-02 09:00"))
    with pytest.raises(months.AssessmentRefused, match="unit"):
        months.adjust(db, NOV, "D2", 2, "x", "region", local("2026-12-02 09:00"))
    months.compute(db, NOV, RULES, DEPTS, CST, local("2026-12-02 10:00"))
    months.lock(db, NOV, "region", local("2026-12-03 09:00"))
    with pytest.raises(months.AssessmentRefused, match="never changes"):
        months.compute(db, NOV, RULES, DEPTS, CST, local("2026-12-04 10:00"))
    with pytest.raises(months.AssessmentRefused, match="only a draft"):
        months.adjust(db, NOV, "dept:D1", 1, "x", "region", local("2026-12-04 09:00"))
    with db.connect() as conn:
        locked = {s["unit"]: s["score"] for s in months.scores_of(conn, NOV)}
    # late data: a red alarm of 11-28 arrives in December, and a December warning
    add_alarm(db, case_no="C6", fired="2026-11-28 00:00")
    add_alarm(db, case_no="C7", fired="2026-12-02 00:00", level="warning", kind="promise_warning")
    december = {s["unit"]: s for s in months.compute(db, DEC, RULES, DEPTS, CST, local("2026-12-05 08:00"))}
    with db.connect() as conn:
        assert {s["unit"]: s["score"] for s in months.scores_of(conn, NOV)} == locked  # unchanged
    assert (december["dept:D1"]["late"], december["dept:D1"]["late_from"]) == (1.5, {"2026-11": 1.5})
    assert december["dept:D1"]["score"] == 100 - 1 - 1.5 and locked["dept:D2"] == 102
    # recomputing the draft carries the same late points once, not again
    again = {s["unit"]: s for s in months.compute(db, DEC, RULES, DEPTS, CST, local("2026-12-06 08:00"))}
    assert again["dept:D1"]["score"] == december["dept:D1"]["score"]
    months.publish(db, NOV, "region", local("2026-12-07 09:00"))
    assert months.month_state(db, NOV)["state"] == "published"
    with pytest.raises(months.AssessmentRefused, match="only a locked"):
        months.publish(db, NOV, "region", local("2026-12-07 09:00"))
    with db.connect() as conn:
        audited = [r.action for r in conn.execute(select(audit_log.c.action))]
        with pytest.raises(Exception, match="append-only"):
            conn.execute(update(assessment_adjustments).values(points=50))
    assert audited == ["assessment_adjust", "assessment_locked", "assessment_published"]
    assert actor("region").officer


def test_report_pdf_in_chinese_and_cli_rules_check(db, tmp_path):
    from click.testing import CliRunner

    from app.assessment.report import month_report
    from app.cli import cli

    from .conftest import REFERENCE

    add_alarm(db, case_no="C1", fired="2026-11-03 00:00")
    months.compute(db, NOV, RULES, {"D1": COUNTY, "D2": COUNTY, "D3": "GX-450100"}, CST, local("2026-12-01 08:00"))
    pdf = month_report(db, REFERENCE, NOV)
    assert pdf.startswith(b"%PDF") and b"SuperviseCJK" in pdf or b"FontFile2" in pdf
    with pytest.raises(months.AssessmentRefused, match="not been computed"):
        month_report(db, REFERENCE, DEC)
    bad = tmp_path / "rules.toml"
    bad.write_text('version = "x"\n[deductions]\nalarm = "a lot"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["assess", "rules", "--check", str(bad)])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: assessment rules {bad}: deductions.alarm must be a number, not 'a lot'"
    ]
    good = tmp_path / "default.toml"
    good.write_text(CliRunner().invoke(cli, ["assess", "rules"]).output, encoding="utf-8")
    assert "usable" in CliRunner().invoke(cli, ["assess", "rules", "--check", str(good)]).output
