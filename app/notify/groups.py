"""Alarm changes into groups, and groups into messages.

:func:`take` puts the changes read from the alarm stream into the groups their routes
name, and moves the notifier's position on the stream in the same transaction, only
if nobody moved it first (compare and set): each change is taken in once, through
crashes and with two notifiers running.

:func:`flush` lets each group speak when its time has come (``rules.routing``): one
message per group and receiver target, numbered by the group's ``seq``, so a message
is produced once, whoever flushes. A yellow alarm whose case has a red one firing, and
alarms an active silence matches, are left out; a group with nothing left says nothing.
Unacknowledged alarms past the route's ``escalate_after`` go one level up the centers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import Connection, Engine, insert, select, update

from app.base.alarm_stream import AlarmChange
from app.base.database import insert_for
from app.base.tables import alarm_actions, notifications, notify_group_alarms, notify_groups, notify_position, silences
from app.notify import contacts as contact_book
from app.notify import texts
from app.notify.places import CenterTree
from app.sms.phones import mask_phone
from rules.calendar import WorkCalendar
from rules.routing import (
    AlarmLabels,
    GroupState,
    Receiver,
    Route,
    Routes,
    Silence,
    escalation_step,
    group_key,
    group_labels,
    inhibited,
    next_message,
    parse_matchers,
    send_at,
)

log = logging.getLogger("notify")

FOLLOWER = "notify"
FIRING_ACTIONS = {"fired", "reopened"}
ENDING_ACTIONS = {"resolved", "retracted", "close"}
QUEUED = "queued"
FLUSH_CHUNK = 200


# --- the stream's position ---------------------------------------------------------------------


def position(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(notify_position.c.stream_position).where(notify_position.c.name == FOLLOWER)
        ).scalar()


def start_at(engine: Engine, stream_position: str, now: datetime) -> str:
    """The stored position, or `stream_position` stored as the first one (a new notifier starts at the end)."""
    with engine.begin() as conn:
        conn.execute(
            insert_for(conn, notify_position)
            .values(name=FOLLOWER, stream_position=stream_position, updated_at=now)
            .on_conflict_do_nothing()
        )
    return position(engine)


# --- taking changes in ---------------------------------------------------------------------------


def take(
    engine: Engine,
    changes: list[AlarmChange],
    routes: Routes,
    tree: CenterTree,
    before: str,
    after: str,
    now: datetime,
) -> bool:
    """Put `changes` into their groups and move the position from `before` to `after`, in one
    transaction; False (nothing done) if another notifier moved it first. A batch is a few
    statements, whatever its size (a midnight brings thousands of changes at once)."""
    groups: dict[str, dict] = {}
    members: dict[tuple[str, int], dict] = {}
    last: dict[int, str] = {}  # alarm id -> 'firing' or 'ended', by its last change in the batch
    acknowledged: set[int] = set()
    for change in changes:
        if change.action in FIRING_ACTIONS and change.state == "open":
            last[change.alarm_id] = "firing"
            labels = labels_of(change, tree)
            for route in routes.match(labels):
                for receiver in route.receivers:
                    key = group_key(route, receiver, labels)
                    groups.setdefault(key, _group_row(key, route, receiver, labels, change, now))
                    members[(key, change.alarm_id)] = _member_row(key, change)
        elif change.action in ENDING_ACTIONS or change.state == "closed":
            last[change.alarm_id] = "ended"
        elif change.action == "ack":
            acknowledged.add(change.alarm_id)
    ended = [alarm_id for alarm_id, state in last.items() if state == "ended"]
    with engine.begin() as conn:
        moved = conn.execute(
            update(notify_position)
            .where(notify_position.c.name == FOLLOWER, notify_position.c.stream_position == before)
            .values(stream_position=after, updated_at=now)
        ).rowcount
        if moved != 1:
            return False
        changed = set(groups)
        if groups:
            conn.execute(insert_for(conn, notify_groups).on_conflict_do_nothing(), list(groups.values()))
            statement = insert_for(conn, notify_group_alarms)
            conn.execute(
                statement.on_conflict_do_update(index_elements=["group_key", "alarm_id"], set_={"firing": True}),
                list(members.values()),
            )
        if ended:
            changed |= set(
                conn.execute(
                    update(notify_group_alarms)
                    .where(notify_group_alarms.c.alarm_id.in_(ended), notify_group_alarms.c.firing.is_(True))
                    .values(firing=False)
                    .returning(notify_group_alarms.c.group_key)
                ).scalars()
            )
        if acknowledged:
            conn.execute(
                update(notify_group_alarms)
                .where(notify_group_alarms.c.alarm_id.in_(sorted(acknowledged)))
                .values(acknowledged=True)
            )
        if changed:
            conn.execute(
                update(notify_groups)
                .where(notify_groups.c.group_key.in_(sorted(changed)))
                .values(changed=True, updated_at=now)
            )
    return True


def labels_of(change, tree: CenterTree) -> AlarmLabels:
    return AlarmLabels(change.level, change.kind, change.center_id, change.dept_id, tree.above(change.center_id))


def _group_row(key: str, route: Route, receiver: str, labels: AlarmLabels, change: AlarmChange, now: datetime) -> dict:
    return {
        "group_key": key,
        "route": route.path,
        "receiver": receiver,
        "labels": group_labels(route, labels),
        "center_id": change.center_id,
        "first_at": now,
        "flushed_at": None,
        "changed": True,
        "seq": 0,
        "updated_at": now,
    }


def _member_row(key: str, change: AlarmChange) -> dict:
    return {
        "group_key": key,
        "alarm_id": change.alarm_id,
        "kind": change.kind,
        "level": change.level,
        "case_no": change.case_no,
        "center_id": change.center_id,
        "dept_id": change.dept_id,
        "fired_at": change.fired_at,
        "firing": True,
        "acknowledged": False,
        "escalated_to": 0,
    }


# --- groups into messages --------------------------------------------------------------------------


@dataclass
class Flushed:
    groups: int = 0
    messages: int = 0
    escalations: int = 0
    held: int = 0  # due, but outside the route's active time


@dataclass(frozen=True, slots=True)
class Context:
    routes: Routes
    tree: CenterTree
    calendar_of: Callable[[str | None], WorkCalendar]
    zone: tzinfo


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    rows = conn.execute(select(silences).where(silences.c.starts_at <= now, silences.c.ends_at > now)).mappings()
    return [Silence(r["id"], parse_matchers(r["matchers"]), r["starts_at"], r["ends_at"]) for r in rows]


def flush(engine: Engine, context: Context, now: datetime) -> Flushed:
    """Produce every message due at `now`."""
    result = Flushed()
    with engine.connect() as conn:
        groups = conn.execute(select(notify_groups)).mappings().all()
        red_cases = set(
            conn.execute(
                select(notify_group_alarms.c.case_no)
                .where(notify_group_alarms.c.firing.is_(True), notify_group_alarms.c.level == "alarm")
                .distinct()
            ).scalars()
        )
        muting = active_silences(conn, now)
        members: dict[str, list] = {}
        for row in conn.execute(select(notify_group_alarms).where(notify_group_alarms.c.firing.is_(True))).mappings():
            members.setdefault(row["group_key"], []).append(row)
    book = contact_book.Book(engine)
    # One transaction per chunk of groups: a midnight's thousands of groups are not a
    # transaction each (each group still moves by compare-and-set on its seq).
    for start in range(0, len(groups), FLUSH_CHUNK):
        with engine.begin() as conn:
            for group in groups[start : start + FLUSH_CHUNK]:
                _flush_group(conn, group, members, red_cases, muting, book, context, now, result)
    return result


def _flush_group(conn, group, members, red_cases, muting, book, context: Context, now: datetime, result: Flushed):
    route = context.routes.route(group["route"])
    receiver = context.routes.receivers.get(group["receiver"])
    if route is None or receiver is None:
        return  # the routes changed since: the group has no one to speak to
    firing = [
        row
        for row in members.get(group["group_key"], [])
        if not inhibited(row["level"], row["case_no"], red_cases)
        and not any(s.mutes(_labels(row, context.tree), now) for s in muting)
    ]
    firing.sort(key=lambda row: (row["level"] != "alarm", row["fired_at"], row["alarm_id"]))
    state = GroupState(group["first_at"], group["flushed_at"], group["changed"], len(firing))
    due = next_message(state, route)
    calendar = context.calendar_of(group["center_id"])
    if due is not None:
        # Due by now, and now within the active time (a due instant that fell in it while
        # nobody was looking does not open it again).
        if send_at(max(due, now), route, calendar, context.zone) <= now:
            result.messages += _speak(conn, book, group, route, receiver, firing, context, now)
            result.groups += 1
        elif due <= now:
            result.held += 1
    if route.escalate_after is not None and send_at(now, route, calendar, context.zone) == now:
        result.escalations += _escalate(conn, book, group, route, receiver, firing, context, now)


def _labels(row, tree: CenterTree) -> AlarmLabels:
    return AlarmLabels(row["level"], row["kind"], row["center_id"], row["dept_id"], tree.above(row["center_id"]))


def _alarms(rows) -> list[texts.Alarm]:
    return [
        texts.Alarm(r["alarm_id"], r["kind"], r["level"], r["case_no"], r["center_id"], r["dept_id"], r["fired_at"])
        for r in rows
    ]


def _speak(conn, book, group, route: Route, receiver: Receiver, firing, context: Context, now: datetime) -> int:
    center_id = group["labels"].get("center") or group["center_id"]
    dept_id = group["labels"].get("department")
    message = texts.Message(
        receiver.name,
        group["group_key"],
        dict(group["labels"]),
        context.tree.name(center_id) if center_id else "",
        context.tree.dept_name(dept_id) if dept_id else "",
        _alarms(firing),
    )
    places = [(center_id, dept_id or "") if place == "department" else (center_id, "") for place in receiver.to]
    if "department" in receiver.to and not dept_id:
        places = [(center_id, "")]
    people = book.responsible(places, receiver.roles) if center_id else []
    rows = outgoing(receiver, message, people, context.zone)
    moved = conn.execute(
        update(notify_groups)
        .where(notify_groups.c.group_key == group["group_key"], notify_groups.c.seq == group["seq"])
        .values(seq=group["seq"] + 1, flushed_at=now, changed=False, updated_at=now)
    ).rowcount
    if moved != 1:
        return 0  # another notifier spoke for this group just now
    return _queue(conn, rows, group["group_key"], group["seq"] + 1, receiver, [a.alarm_id for a in message.alarms], now)


def _queue(conn, rows, key: str, seq: int, receiver: Receiver, alarm_ids: list[int], now: datetime) -> int:
    if not rows:
        return 0
    values = [
        {
            "group_key": key,
            "seq": seq,
            "receiver": receiver.name,
            "channel": receiver.type,
            "target": target,
            "recipient": recipient,
            "text": text,
            "alarm_ids": alarm_ids,
            "state": QUEUED,
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "updated_at": now,
        }
        for target, recipient, text in rows
    ]
    return len(
        conn.execute(
            insert_for(conn, notifications).on_conflict_do_nothing().returning(notifications.c.id), values
        ).all()
    )


def outgoing(receiver: Receiver, message: texts.Message, people, zone: tzinfo) -> list[tuple[str, str, str]]:
    """(target, recipient as shown, what is sent) for each message the receiver sends for this group."""
    mobiles = [p.mobile for p in people if p.mobile]
    named = "、".join(f"{p.name}" for p in people) or "（无联系人）"
    if receiver.type == "sms":
        text = texts.sms_text(message)
        return [(p.mobile, f"{p.name} {mask_phone(p.mobile)}", text) for p in people if p.mobile]
    if receiver.type == "email":
        subject, plain, html = texts.email_parts(message, zone)
        addresses = [(p.email, p.name) for p in people if p.email]
        addresses += [(a, a) for a in receiver.settings.get("addresses", [])]
        body = json.dumps({"subject": subject, "plain": plain, "html": html}, ensure_ascii=False)
        return [(a, f"{n} {contact_book.mask_email(a)}", body) for a, n in addresses]
    if receiver.type == "wecom":
        mention = receiver.settings.get("mention", True)
        if receiver.settings.get("msgtype", "markdown") == "text":
            body = {"msgtype": "text", "text": {"content": texts.sms_text(message)}}
            if mention and mobiles:
                body["text"]["mentioned_mobile_list"] = mobiles
        else:  # markdown cannot @ by mobile: the names are written in it
            content = texts.markdown(message, zone, texts.WECOM_MARKDOWN_BYTES - 200)
            if people:
                content += "\n请 " + "、".join(p.name for p in people) + " 及时处理"
            body = {"msgtype": "markdown", "markdown": {"content": content}}
        return [("", f"企业微信群 ({named})", json.dumps(body, ensure_ascii=False))]
    if receiver.type == "dingtalk":
        mention = receiver.settings.get("mention", True)
        content = texts.markdown(message, zone, 18000)
        if mention and mobiles:
            content += "\n" + " ".join(f"@{m}" for m in mobiles)
        body = {
            "msgtype": "markdown",
            "markdown": {"title": texts.SIGNATURE + message.center, "text": content},
            "at": {"atMobiles": mobiles if mention else [], "isAtAll": False},
        }
        return [("", f"钉钉群 ({named})", json.dumps(body, ensure_ascii=False))]
    return [("", "webhook", texts.alertmanager_v4(message))]  # webhook


# --- escalation by level ---------------------------------------------------------------------------


def _escalate(conn, book, group, route: Route, receiver: Receiver, firing, context: Context, now: datetime) -> int:
    """Unacknowledged alarms past escalate_after go to the contacts of the centers above, a level a period."""
    sent = 0
    above = context.tree.above(group["center_id"])
    climbing: dict[int, list] = {}
    for row in firing:
        if row["acknowledged"]:
            continue
        step = escalation_step(row["fired_at"], now, route, len(above))
        if step > row["escalated_to"]:
            climbing.setdefault(step, []).append(row)
    for step, rows in sorted(climbing.items()):
        upper = above[step - 1]
        lower = context.tree.name(group["center_id"]) + (
            context.tree.dept_name(rows[0]["dept_id"]) if rows[0]["dept_id"] else ""
        )
        message = texts.Message(
            receiver.name, group["group_key"], dict(group["labels"]), context.tree.name(upper), "", _alarms(rows), lower
        )
        people = book.responsible([(upper, "")], receiver.roles)
        key = f"{group['group_key']}/up{step}"
        out = outgoing(receiver, message, people, context.zone)
        ids = [r["alarm_id"] for r in rows]
        moved = conn.execute(
            update(notify_group_alarms)
            .where(
                notify_group_alarms.c.group_key == group["group_key"],
                notify_group_alarms.c.alarm_id.in_(ids),
                notify_group_alarms.c.escalated_to < step,
            )
            .values(escalated_to=step)
        ).rowcount
        if moved != len(ids):
            continue  # another notifier climbed for some of them: it sends
        sent += _queue(conn, out, key, int(now.timestamp()), receiver, ids, now)
        conn.execute(
            insert(alarm_actions),
            [
                {
                    "alarm_id": i,
                    "action": "notified_up",
                    "actor": "system",
                    "note": f"上报 {upper} 第{step}级",
                    "at": now,
                }
                for i in ids
            ],
        )
    return sent
