"""The words applicants read: the completion notice (办结通知) and the one reminder
asking for a number. Pure; names of places are looked up by the caller.

Names and case numbers come from upstream: an applicant reads them capped and
with no invisible or direction-changing character (app/base/display.py), so a
message stays one SMS-sized text and says what it seems to say.
"""

from __future__ import annotations

from app.base.display import CELL, LABEL, TITLE, shown


def window_place(center_name: str | None, window_label: str | None) -> str | None:
    """'南宁市政务服务中心A01号窗口', or whatever part of it is known."""
    label = shown(window_label, LABEL).strip()
    if label and not label.endswith("窗口"):
        label += "号窗口" if label.isascii() and label.isalnum() else "窗口"
    place = f"{shown(center_name, CELL).strip()}{label}"
    return place or None


def completion_text(
    signature: str, case_no: str, center_name: str | None = None, window_label: str | None = None
) -> str:
    """The completion SMS: case number, finished, whom to contact, and the 0–100 question."""
    place = window_place(center_name, window_label)
    case_no = shown(case_no, TITLE)
    contact = f"如需领取办理结果或有疑问，请联系{place}。" if place else "如需领取办理结果或有疑问，请联系受理窗口。"
    return (
        f"【{signature}】您好，您申请的办件（编号：{case_no}）已办结。{contact}"
        "请您为本次服务评分：直接回复0至100之间的一个数字即可（100为非常满意）。感谢您的支持！"
    )


def ask_score_text(signature: str, case_no: str) -> str:
    """The one polite reminder sent when a reply could not be read as a score."""
    case_no = shown(case_no, TITLE)
    return (
        f"【{signature}】感谢您的回复！为便于统计，请直接回复0至100之间的一个数字，"
        f"为办件（编号：{case_no}）的服务评分，例如：90。"
    )
