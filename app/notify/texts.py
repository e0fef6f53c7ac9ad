"""What a group's message says, per channel: counts and the worst (oldest) cases first.

An SMS fits one segment (70 characters); a WeCom markdown stays under 4,096 bytes; the
webhook carries Alertmanager's version 4 JSON so existing tools can read it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from rules.alarms import KINDS

SMS_SEGMENT = 70
WECOM_MARKDOWN_BYTES = 4096
SIGNATURE = "【效能监察】"


@dataclass(frozen=True, slots=True)
class Alarm:
    alarm_id: int
    kind: str
    level: str
    case_no: str | None
    center_id: str | None
    dept_id: str | None
    fired_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    """One group's message: whose alarms, where, and how it came about."""

    receiver: str
    group_key: str
    group_labels: dict
    center: str  # names, for people
    department: str
    alarms: list[Alarm]  # firing, not inhibited, not silenced: the worst first
    escalated_from: str | None = None  # the lower center's name, when this is an escalation


def kind_name(kind: str) -> str:
    return KINDS[kind].label_zh if kind in KINDS else kind


def _headline(message: Message) -> str:
    red = sum(1 for a in message.alarms if a.level == "alarm")
    yellow = len(message.alarms) - red
    kinds = Counter(kind_name(a.kind) for a in message.alarms)
    what = "、".join(f"{name}{n}件" for name, n in kinds.most_common(3))
    place = message.center + (f"{message.department}" if message.department else "")
    level = "红牌" if red and not yellow else ("黄牌" if yellow and not red else f"红牌{red}、黄牌{yellow}")
    up = f"（{message.escalated_from}逾时未确认，上报）" if message.escalated_from else ""
    return f"{place}{level}告警{len(message.alarms)}件{up}：{what}"


def sms_text(message: Message) -> str:
    """One SMS segment: the headline, then as many of the worst cases as fit; the closing
    courtesy goes before the oldest case does."""
    head = SIGNATURE + _headline(message)
    if len(head) > SMS_SEGMENT:
        return head[: SMS_SEGMENT - 1] + "…"
    cases = [a.case_no for a in message.alarms if a.case_no]
    for tail in ("，请及时处理。", "。"):
        shown: list[str] = []
        for case_no in cases:
            more = "等" if len(shown) + 1 < len(cases) else ""
            if len(head + "。最早：" + "、".join([*shown, case_no]) + more + tail) > SMS_SEGMENT:
                break
            shown.append(case_no)
        if shown or not cases:
            more = "等" if len(shown) < len(cases) else ""
            return head + ("。最早：" + "、".join(shown) + more if shown else "") + tail
    return head + "，请及时处理。" if len(head) + 7 <= SMS_SEGMENT else head


def markdown(message: Message, zone: tzinfo, limit_bytes: int = WECOM_MARKDOWN_BYTES) -> str:
    """A markdown body (WeCom, DingTalk), the worst cases listed while they fit in `limit_bytes`."""
    head = f"### {SIGNATURE}{_headline(message)}\n"
    lines = []
    for alarm in message.alarms:
        colour = "warning" if alarm.level == "alarm" else "comment"
        line = (
            f'> <font color="{colour}">{kind_name(alarm.kind)}</font> {alarm.case_no or ""} '
            f"{alarm.fired_at.astimezone(zone):%m-%d %H:%M}\n"
        )
        lines.append(line)
    body = head
    for i, line in enumerate(lines):
        rest = f"> …另有{len(lines) - i}件\n"
        if len((body + line + rest).encode()) > limit_bytes:
            body += rest
            break
        body += line
    return body


def email_parts(message: Message, zone: tzinfo) -> tuple[str, str, str]:
    """Subject, plain text, HTML."""
    subject = SIGNATURE + _headline(message)
    rows = [
        (kind_name(a.kind), a.case_no or "", f"{a.fired_at.astimezone(zone):%Y-%m-%d %H:%M}", a.level)
        for a in message.alarms
    ]
    plain = subject + "\n\n" + "\n".join(f"{k}\t{c}\t{t}" for k, c, t, _ in rows) + "\n"
    from html import escape

    html = (
        f"<p>{escape(subject)}</p><table><tr><th>类型</th><th>办件编号</th><th>告警时间</th></tr>"
        + "".join(f"<tr><td>{escape(k)}</td><td>{escape(c)}</td><td>{escape(t)}</td></tr>" for k, c, t, _ in rows)
        + "</table>"
    )
    return subject, plain, html


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alertmanager_v4(message: Message, external_url: str = "") -> str:
    """Alertmanager's webhook body, version 4."""
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": a.kind,
                "level": a.level,
                "severity": "critical" if a.level == "alarm" else "warning",
                "center": a.center_id or "",
                "department": a.dept_id or "",
                "case_no": a.case_no or "",
            },
            "annotations": {"summary": kind_name(a.kind)},
            "startsAt": _rfc3339(a.fired_at),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": external_url,
            "fingerprint": f"{a.alarm_id:016x}",
        }
        for a in message.alarms
    ]
    common = (
        {k: v for k, v in alerts[0]["labels"].items() if all(x["labels"].get(k) == v for x in alerts)} if alerts else {}
    )
    body = {
        "version": "4",
        "groupKey": message.group_key,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": message.receiver,
        "groupLabels": {k: v or "" for k, v in message.group_labels.items()},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": alerts,
    }
    return json.dumps(body, ensure_ascii=False)
