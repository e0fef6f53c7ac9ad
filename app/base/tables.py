"""Tables of the supervision database (SUPERVISE_DB_URL).

One definition serves SQLite and PostgreSQL. The Alembic migrations in
``app/base/migrations`` create exactly these tables; a test compares the two.
Instants are stored in UTC and always come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)

metadata = MetaData()

# SQLite's INTEGER PRIMARY KEY is its rowid; BIGINT would not autoincrement there.
BigId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = 2**63 - 1  # the largest id either backend stores (BIGINT, SQLite INTEGER)


def is_row_id(value) -> bool:
    """Could `value` be a row id at all? A larger number reaches the driver as an overflow, not as 'no such row'."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class UtcDateTime(TypeDecorator):
    """An aware instant, stored as UTC on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Every exchange row accepted into a case, so a case can be judged again from
# all its events when a late row arrives.
events = Table(
    "events",
    metadata,
    Column("event_id", BigInteger, primary_key=True, autoincrement=False),
    Column("case_no", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("source_system", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("item_code", Text),
    Column("payload", JSON, nullable=False),
    # An exact repeat (same case, kind, occurred_at, payload) is ignored.
    Column("dup_key", Text, nullable=False),
    # Held: the case has no `received` yet. Set aside after 24 h, taken in if it arrives later.
    Column("held", Boolean, nullable=False, default=False),
    # A repeat is always of the same case; this also serves every lookup by case.
    UniqueConstraint("case_no", "dup_key", name="events_case_dup"),
)
# Held events are few: only they are indexed.
Index("events_held", events.c.recorded_at, postgresql_where=events.c.held, sqlite_where=events.c.held)

cases = Table(
    "cases",
    metadata,
    Column("case_no", Text, primary_key=True),
    Column("item_code", Text, nullable=False),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("applicant_phone", Text),
    Column("status", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("start_date", Date),
    Column("deemed_accepted", Boolean, nullable=False, default=False),
    Column("promise_due", Date),
    Column("statutory_due", Date),
    Column("paused_days", Integer, nullable=False, default=0),
    Column("extension_days", Integer, nullable=False, default=0),
    Column("completed_at", UtcDateTime),
    Column("result", Text),
    Column("on_time", Boolean),
    Column("early", Boolean),
    Column("used_days", Integer),
    Column("promised_days", Integer),
    Column("corrections", Integer, nullable=False, default=0),
    # The next instant at which the judgement changes with no new event: the
    # due-instant index that fires clock alarms without scanning every case.
    Column("next_change", UtcDateTime),
    Column("clocks", JSON, nullable=False),
    Column("judged_at", UtcDateTime, nullable=False),
)
Index("cases_next_change", cases.c.next_change)
Index("cases_center", cases.c.center_id, cases.c.received_at)
Index("cases_dept", cases.c.dept_id)
Index("cases_phone", cases.c.applicant_phone)

alarms = Table(
    "alarms",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("case_no", Text),
    Column("subject", Text, nullable=False, default=""),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("camera_id", Text),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("due", Date),
    Column("state", Text, nullable=False),
    Column("closed_reason", Text),
    Column("closed_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("urged_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    # One alarm per (kind, case, subject); a camera alarm per outage (subject = outage start).
    UniqueConstraint("kind", "case_no", "subject", name="alarms_identity"),
)
Index("alarms_state", alarms.c.state, alarms.c.fired_at)
Index("alarms_case", alarms.c.case_no)
Index("alarms_center", alarms.c.center_id, alarms.c.state)

# Append-only: database triggers refuse UPDATE and DELETE (see the migration).
alarm_actions = Table(
    "alarm_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alarm_id", BigInteger, nullable=False),
    Column("action", Text, nullable=False),  # fired, ack, urge, close, resolved, retracted, escalated
    Column("actor", Text, nullable=False),  # an officer's name, or 'system'
    Column("note", Text, nullable=False, default=""),
    Column("at", UtcDateTime, nullable=False),
)
Index("alarm_actions_alarm", alarm_actions.c.alarm_id)

quality_log = Table(
    "quality_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),  # case_events or onsite_ratings
    Column("event_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("row", JSON, nullable=False),
    Column("logged_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "event_id", "reason", name="quality_once"),
)

# Where the tailer stands in each exchange table; written in the same
# transaction as the results, so a crash can never count a row twice.
ingest_cursor = Table(
    "ingest_cursor",
    metadata,
    Column("source", Text, primary_key=True),
    Column("watermark", BigInteger, nullable=False),  # every id <= watermark is taken in or known absent
    Column("seen_above", JSON, nullable=False),  # ids above the watermark already taken in
    Column("gaps", JSON, nullable=False),  # ids above the watermark not yet visible, with when first missed
    Column("updated_at", UtcDateTime, nullable=False),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),  # onsite or sms
    Column("source_id", Text, nullable=False),
    Column("case_no", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("window_id", Text),
    Column("staff_id", Text),
    Column("score", Integer, nullable=False),
    Column("rated_at", UtcDateTime, nullable=False),
    Column("followed_up_at", UtcDateTime),
    Column("follow_up_by", Text),
    Column("follow_up_note", Text),
    UniqueConstraint("source", "source_id", name="ratings_source"),
)
Index("ratings_window", ratings.c.window_id, ratings.c.rated_at)

# A user's role, widest first; acting on alarms (ack, urge, close) and taking evidence are for
# the officers above the department (app/scope.py says what each sees).
ROLES = ("region", "city", "center", "department")
ACTING_ROLES = ("region", "city", "center")

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("role", Text, nullable=False),  # region, city, center, department
    Column("scope_id", Text, nullable=False),  # a center_id, or a dept_id for department viewers
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# Append-only like alarm_actions: logins, video views, exports, denials.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),  # login, logout, view_video, export_pdf, denied, ...
    Column("target", Text, nullable=False, default=""),
    Column("detail", JSON, nullable=False),
    Column("remote_addr", Text),
)
Index("audit_log_at", audit_log.c.at)

# Stills kept as evidence for an alarm or on an officer's request; files on disk.
evidence = Table(
    "evidence",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("camera_id", Text, nullable=False),
    Column("window_id", Text),
    Column("alarm_id", BigInteger),
    Column("case_no", Text),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("frame_at", UtcDateTime),
    Column("path", Text, nullable=False),  # relative to SUPERVISE_VAR_DIR
    Column("frames", JSON, nullable=False),  # relative paths of the keyframes from the seconds before
    Column("requested_by", Text, nullable=False),  # an officer's name, or 'system'
)
Index("evidence_case", evidence.c.case_no)
Index("evidence_alarm", evidence.c.alarm_id)


# --- Web dashboard (app/web.py, app/kpi/): migration 0003 -------------------------------
# Owned by the dashboard. Indexes on the tables above serve its queries: the
# board's change check (alarms.updated_at), the KPI refresh (cases.judged_at),
# date-range scans (received_at, completed_at) and overdue open cases.

OPEN_STATUSES = ("received", "correction", "accepted", "paused")

Index("alarms_updated", alarms.c.updated_at)
Index("cases_judged", cases.c.judged_at)
Index("cases_received", cases.c.received_at)
Index("cases_completed", cases.c.completed_at)
Index(
    "cases_open_due",
    cases.c.promise_due,
    postgresql_where=cases.c.status.in_(OPEN_STATUSES),
    sqlite_where=cases.c.status.in_(OPEN_STATUSES),
)

# Secrets every web server behind a load balancer must share (the session
# cookie signing key), created once by whichever server starts first.
web_secrets = Table(
    "web_secrets",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# --- Web sessions and login throttling (app/sessions.py, app/logins.py): migration 0008 ---------
# Owned by the dashboard.

# One row per logged-in browser. The session cookie carries a random token; only its
# digest is stored, so a copy of this table opens no session. Logout deletes the row,
# a password, role or scope change deletes the user's rows: every web process sees it
# at the next request, as each request reads its row.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),  # sha256 of the cookie's token, hex
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),  # moved on by use, at most once a minute
    Column("remote_addr", Text),
)
Index("web_sessions_user", web_sessions.c.user_id)
Index("web_sessions_expires", web_sessions.c.expires_at)

# Failed logins of the last window, by the name typed (known or not) and the address:
# what the throttle counts. Rows older than the window are deleted; audit_log keeps them all.
web_login_failures = Table(
    "web_login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("remote_addr", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
Index("web_login_failures_name", web_login_failures.c.name, web_login_failures.c.at)
Index("web_login_failures_addr", web_login_failures.c.remote_addr, web_login_failures.c.at)
Index("web_login_failures_at", web_login_failures.c.at)

# KPI pre-aggregation: one row per local day and place (center, department,
# window, staff; '' where unknown). Cases count on the day they were received
# (received) and on the day they ended (completed/rejected/withdrawn); ratings
# on the day they were given. Rebuilt a day at a time by app.kpi.aggregate.refresh.
kpi_daily = Table(
    "kpi_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("center_id", Text, primary_key=True),
    Column("dept_id", Text, primary_key=True),
    Column("window_id", Text, primary_key=True),
    Column("staff_id", Text, primary_key=True),
    Column("received", Integer, nullable=False, default=0),
    Column("completed", Integer, nullable=False, default=0),
    Column("on_time", Integer, nullable=False, default=0),
    Column("early", Integer, nullable=False, default=0),
    Column("timed", Integer, nullable=False, default=0),  # completed with used and promised days known
    Column("used_days", Integer, nullable=False, default=0),  # sum over `timed`
    Column("promised_days", Integer, nullable=False, default=0),  # sum over `timed`
    Column("corrected", Integer, nullable=False, default=0),  # ended cases with a correction notice
    Column("ended", Integer, nullable=False, default=0),  # completed + rejected + withdrawn
    Column("ratings", Integer, nullable=False, default=0),
    Column("rating_sum", Integer, nullable=False, default=0),
    Column("satisfied", Integer, nullable=False, default=0),  # score >= rules.ratings.SATISFIED_SCORE
)
Index("kpi_daily_center_day", kpi_daily.c.center_id, kpi_daily.c.day)
Index("kpi_daily_dept_day", kpi_daily.c.dept_id, kpi_daily.c.day)

# The same counters per calendar month (month = its first day), summed from
# kpi_daily: a year of a region reads twelve rows per place instead of 365.
kpi_monthly = Table(
    "kpi_monthly",
    metadata,
    Column("month", Date, primary_key=True),
    *[
        Column(c.name, Text, primary_key=True)
        for c in kpi_daily.c
        if c.name in ("center_id", "dept_id", "window_id", "staff_id")
    ],
    *[Column(c.name, Integer, nullable=False, default=0) for c in kpi_daily.c if not c.primary_key],
)
Index("kpi_monthly_center_month", kpi_monthly.c.center_id, kpi_monthly.c.month)

# Where the KPI refresh stands: the newest cases.judged_at and ratings.id taken in.
kpi_state = Table(
    "kpi_state",
    metadata,
    Column("name", Text, primary_key=True),
    Column("judged_mark", UtcDateTime),
    Column("rating_mark", BigInteger, nullable=False, default=0),
    Column("refreshed_at", UtcDateTime),
)


# --- Completion SMS and satisfaction (app/sms, ingest/ratings.py): migration 0004 ----------
# Owned by the SMS/satisfaction package.

# The rating alarms' due-instant index, like cases.next_change: the next instant at
# which a rating's low_satisfaction / rectification_overdue judgement changes with no
# new data (rated_at in the future, the rectification deadline, a follow-up recorded).
ratings.append_column(Column("next_change", UtcDateTime))
Index("ratings_next_change", ratings.c.next_change)
Index("ratings_center_rated", ratings.c.center_id, ratings.c.rated_at)
Index("ratings_rated", ratings.c.rated_at)
Index("ratings_case", ratings.c.case_no)

# Outgoing SMS, one row per message. The row id is the idempotency key: the gateway
# gets it as the client message id and never delivers one id twice. State machine:
# queued → sending (claimed, with a fencing token) → sent | failed; a failed attempt
# goes back to queued with a later not_before; a claim older than the lease is taken
# up again (the sender died mid-send) and re-sent under the same id.
sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("purpose", Text, nullable=False),  # completion, ask_score
    Column("case_no", Text, nullable=False),
    Column("phone", Text, nullable=False),  # full number: only the gateway sees it
    Column("text", Text, nullable=False),  # exactly what is sent, kept as evidence
    Column("state", Text, nullable=False),  # queued, sending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UtcDateTime, nullable=False),  # earliest next attempt (retry back-off)
    Column("claim_token", Text),
    Column("claimed_at", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("gateway", Text),  # which gateway delivered it
    Column("gateway_ref", Text),  # the provider's own message id
    Column("last_error", Text),
    Column("reply_to", Text),  # ask_score: the inbound message_id it answers
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Exactly one completion SMS per case, and at most one "please reply with a number".
    UniqueConstraint("case_no", "purpose", name="sms_outbox_once"),
)
Index("sms_outbox_due", sms_outbox.c.state, sms_outbox.c.not_before)
Index("sms_outbox_phone", sms_outbox.c.phone, sms_outbox.c.sent_at)

# Replies from applicants (POST /api/sms/inbound), one row per provider message_id.
sms_inbox = Table(
    "sms_inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=False),
    Column("case_no", Text),  # the case whose completion SMS it answers, if any
    Column("outbox_id", BigInteger),  # that completion SMS
    Column("score", Integer),  # what the text reads as; None when unreadable
    Column("problem", Text),  # why it is unreadable
    Column("outcome", Text, nullable=False),  # rated, asked_for_number, unreadable, already_rated, late, unknown_number
    Column("rating_id", BigInteger),  # the ratings row it became (outcome rated)
    UniqueConstraint("message_id", name="sms_inbox_message"),
)
Index("sms_inbox_case", sms_inbox.c.case_no)
Index("sms_inbox_received", sms_inbox.c.received_at)


# --- Escalation (ingest/escalation.py): migration 0006 ------------------------------------------
# Owned by the dashboard.

# An alarm escalates once: whichever process records it first, a second
# 'escalated' entry for the same alarm is refused by the database itself.
Index(
    "alarm_actions_escalated_once",
    alarm_actions.c.alarm_id,
    unique=True,
    postgresql_where=alarm_actions.c.action == "escalated",
    sqlite_where=alarm_actions.c.action == "escalated",
)

# Where the escalation sweep stands, so that each sweep looks only at what may
# have passed the limit since the one before (one row, name 'alarms').
escalation_sweep = Table(
    "escalation_sweep",
    metadata,
    Column("name", Text, primary_key=True),
    Column("fired_until", UtcDateTime, nullable=False),  # alarms fired up to here were looked at past their limit
    Column("after_id", BigInteger, nullable=False),  # alarms with a higher id are new since
    Column("swept_at", UtcDateTime, nullable=False),  # alarms updated after this (less a margin) are looked at again
)


# --- Alarm outbox (app/base/outbox.py): migration 0007 --------------------------------------------
# Every alarm change, written in the same transaction as the change itself, until the relay
# has put it on the alarm stream (supervise:alarms); published rows are pruned after a while.
alarm_outbox = Table(
    "alarm_outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),  # the change id readers de-duplicate by
    Column("alarm_id", BigInteger, nullable=False),
    Column("message", Text, nullable=False),  # the AlarmChange as JSON (app/base/alarm_stream.py)
    Column("written_at", UtcDateTime, nullable=False, server_default=func.now()),  # the database's clock
    # The stream entry id (<ms>-<seq>) the relay gave it; given once, kept through every re-send.
    Column("stream_ms", BigInteger),
    Column("stream_seq", BigInteger),
    Column("published_at", UtcDateTime),  # seen on the stream
)
# The backlog, in outbox order; and the few rows given an entry id whose publication is not yet seen.
_pending = alarm_outbox.c.published_at.is_(None)
Index("alarm_outbox_pending", alarm_outbox.c.id, postgresql_where=_pending, sqlite_where=_pending)
_sent = _pending & alarm_outbox.c.stream_ms.is_not(None)
Index(
    "alarm_outbox_sent", alarm_outbox.c.stream_ms, alarm_outbox.c.stream_seq, postgresql_where=_sent, sqlite_where=_sent
)
Index("alarm_outbox_published", alarm_outbox.c.published_at)

# The relay's one row (name 'alarms'): the last stream entry id given, and which relay is
# publishing now (a lease, so that two relays rarely send the same entries at once).
alarm_outbox_relay = Table(
    "alarm_outbox_relay",
    metadata,
    Column("name", Text, primary_key=True),
    Column("last_ms", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("holder", Text),
    Column("held_until", UtcDateTime),
)


# --- Exchange row checks (ingest/row_checks.py): migration 0009 ------------------------------
# Where the re-reading of exchange rows already taken in stands, one row per exchange table:
# each pass re-reads ids from the watermark it began at back over a window, newest first,
# and compares them with what was taken in; a row changed, deleted or written in the past
# upstream goes to the quality log (nothing is judged again).
exchange_row_checks = Table(
    "exchange_row_checks",
    metadata,
    Column("source", Text, primary_key=True),  # case_events or onsite_ratings
    Column("pass_top", BigInteger, nullable=False),  # this pass re-reads ids up to here: the watermark when it began
    Column("checked_down_to", BigInteger, nullable=False),  # ids above this (up to pass_top) are re-read
    Column("pass_began", UtcDateTime, nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),  # in this pass so far
    Column("last_pass_began", UtcDateTime),  # the last whole pass
    Column("last_pass_ended", UtcDateTime),
    Column("last_pass_rows", BigInteger),
)


# --- Notifications (app/notify/): migration 0011 ----------------------------------------------
# Who is responsible where: people of a center (dept_id '') or of one department in it.
contacts = Table(
    "contacts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),  # 窗口负责人, 中心督查员, 分管领导 …
    Column("center_id", Text, nullable=False),
    Column("dept_id", Text, nullable=False, default=""),  # '' : the center itself
    Column("mobile", Text),  # full number: only a receiver sees it; listings mask it
    Column("email", Text),
    Column("wecom_user", Text),
    Column("dingtalk_user", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("center_id", "dept_id", "name", "role", name="contacts_once"),
)
Index("contacts_place", contacts.c.center_id, contacts.c.dept_id)

# Where the notifier stands on the alarm stream (one row per follower name): moved in the same
# transaction as what it did with the changes read, so a change is taken into groups once.
notify_position = Table(
    "notify_position",
    metadata,
    Column("name", Text, primary_key=True),
    Column("stream_position", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# An aggregation group: alarms of one route and receiver with the same group_by labels.
notify_groups = Table(
    "notify_groups",
    metadata,
    Column("group_key", Text, primary_key=True),
    Column("route", Text, nullable=False),  # the route's path in the tree, e.g. '0.1'
    Column("receiver", Text, nullable=False),
    Column("labels", JSON, nullable=False),  # the group_by labels' values
    Column("center_id", Text),  # whose working-day calendar the active time follows
    Column("first_at", UtcDateTime, nullable=False),
    Column("flushed_at", UtcDateTime),  # the last message's instant
    Column("changed", Boolean, nullable=False, default=True),  # alarms came or went since the last message
    Column("seq", Integer, nullable=False, default=0),  # messages produced so far
    Column("updated_at", UtcDateTime, nullable=False),
)

notify_group_alarms = Table(
    "notify_group_alarms",
    metadata,
    Column("group_key", Text, primary_key=True),
    Column("alarm_id", BigInteger, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("level", Text, nullable=False),
    Column("case_no", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("firing", Boolean, nullable=False, default=True),  # False once resolved, closed or retracted
    Column("acknowledged", Boolean, nullable=False, default=False),
    Column("escalated_to", Integer, nullable=False, default=0),  # levels up the ladder already told
)

# One message to one receiver: queued → sending (claimed with a fencing token) → sent | failed.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("group_key", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("receiver", Text, nullable=False),
    Column("channel", Text, nullable=False),  # sms, wecom, dingtalk, email, webhook
    Column("target", Text, nullable=False),  # phone, address, or '' for a robot's webhook
    Column("recipient", Text, nullable=False, default=""),  # who, as officers may read it (masked)
    Column("text", Text, nullable=False),  # what was said, kept as evidence
    Column("alarm_ids", JSON, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UtcDateTime, nullable=False),
    Column("claim_token", Text),
    Column("claimed_at", UtcDateTime),
    Column("sent_at", UtcDateTime),
    Column("answer", Text),  # the provider's answer
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("group_key", "seq", "receiver", "target", name="notifications_once"),
)
Index("notifications_due", notifications.c.state, notifications.c.not_before)

# Silences: matching alarms are muted from starts_at until ends_at (state derived from the two).
silences = Table(
    "silences",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("matchers", JSON, nullable=False),  # {"kind": "...", "center": "..."}: every one must match
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


# --- Supervision orders and appeals (app/orders/, ingest/orders.py, rules/orders.py): migration 0011 ------
# Owned by the supervision loop (issue 13).

# One row per supervision order (督办单): issued on alarms of one case to one department.
# state: awaiting (feedback due by feedback_due) → answered → accepted (办结); a return (退回)
# starts the next round, awaiting again with a new due date. next_change is the due index of
# its order_overdue clock, like cases.next_change.
supervision_orders = Table(
    "supervision_orders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_no", Text, nullable=False, unique=True),  # 桂政监督〔2026〕第 0123 号
    Column("year", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("case_no", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("escalated_to", Text),  # the next level's center: whose officers an overdue order reaches
    Column("instructions", Text, nullable=False),
    Column("state", Text, nullable=False),  # awaiting, answered, accepted
    Column("round", Integer, nullable=False, default=1),
    Column("feedback_due", Date, nullable=False),
    Column("answered_at", UtcDateTime),  # this round's feedback
    Column("issued_by", Text, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("accepted_by", Text),
    Column("accepted_at", UtcDateTime),
    Column("next_change", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("year", "sequence", name="supervision_orders_number"),
)
Index("supervision_orders_next_change", supervision_orders.c.next_change)
Index("supervision_orders_dept", supervision_orders.c.dept_id, supervision_orders.c.state)
Index("supervision_orders_center", supervision_orders.c.center_id, supervision_orders.c.state)
Index("supervision_orders_case", supervision_orders.c.case_no)

# The alarms an order was issued on.
order_alarms = Table(
    "order_alarms",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("alarm_id", BigInteger, primary_key=True, autoincrement=False),
)
Index("order_alarms_alarm", order_alarms.c.alarm_id)

# The last sequence number given in each year: one atomic upsert hands out the next.
order_numbers = Table(
    "order_numbers",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last", Integer, nullable=False),
)

# A department's appeal (申诉) of an alarm; decided by an officer of the level above:
# revoked (撤销), rejected (驳回) or referred (上报: decided next at `at_center`, the level above).
appeals = Table(
    "appeals",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alarm_id", BigInteger, nullable=False),
    Column("case_no", Text),
    Column("center_id", Text),
    Column("dept_id", Text),
    Column("at_center", Text),  # whose officers decide it now
    Column("state", Text, nullable=False),  # pending, referred, revoked, rejected
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False, default=""),
    Column("filed_by", Text, nullable=False),
    Column("filed_at", UtcDateTime, nullable=False),
    Column("decide_by", Date, nullable=False),
    Column("decided_by", Text),
    Column("decided_at", UtcDateTime),
    Column("decision_note", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("appeals_alarm", appeals.c.alarm_id)
Index("appeals_dept", appeals.c.dept_id, appeals.c.state)

# Every step of an order or an appeal, with who, when and what was said. Append-only like
# alarm_actions: the database refuses UPDATE and DELETE (see the migration).
supervision_history = Table(
    "supervision_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject", Text, nullable=False),  # order or appeal
    Column("subject_id", BigInteger, nullable=False),
    Column("action", Text, nullable=False),  # issued, answered, accepted, returned; filed, revoke, reject, refer
    Column("actor", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", JSON, nullable=False),
)
Index("supervision_history_subject", supervision_history.c.subject, supervision_history.c.subject_id)

# Red alarms watched for an order (not_supervised): the due index of that clock, one row per
# red alarm, fed each ingest cycle from the alarms changed since the mark.
supervision_watch = Table(
    "supervision_watch",
    metadata,
    Column("alarm_id", BigInteger, primary_key=True, autoincrement=False),
    Column("next_change", UtcDateTime),
)
Index("supervision_watch_next_change", supervision_watch.c.next_change)

# Where the feed of supervision_watch stands (one row, name 'alarms'): alarms updated at or
# after `updated_mark` are looked at again.
supervision_watch_mark = Table(
    "supervision_watch_mark",
    metadata,
    Column("name", Text, primary_key=True),
    Column("updated_mark", UtcDateTime, nullable=False),
)


# --- The monthly assessment (app/assessment/, rules/assessment.py): migration 0012 ------------------
# Owned by the supervision loop (issue 13).

# One row per assessed month (its first day): draft (recomputed as data arrives) → locked → published.
# The rules it was scored with are kept whole, so a locked month can always be explained.
assessment_months = Table(
    "assessment_months",
    metadata,
    Column("month", Date, primary_key=True),
    Column("state", Text, nullable=False),  # draft, locked, published
    Column("rules_version", Text, nullable=False),
    Column("rules_text", Text, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("locked_by", Text),
    Column("locked_at", UtcDateTime),
    Column("published_by", Text),
    Column("published_at", UtcDateTime),
)

# One row per month and unit ('dept:<id>' or 'center:<id>'); never changed once its month is locked.
assessment_scores = Table(
    "assessment_scores",
    metadata,
    Column("month", Date, primary_key=True),
    Column("unit", Text, primary_key=True),
    Column("center_id", Text, nullable=False),
    Column("dept_id", Text),
    Column("score", Float, nullable=False),
    Column("deductions", Float, nullable=False),  # automatic, from the month's own data
    Column("late", Float, nullable=False),  # carried from late data of locked months
    Column("adjustments", Float, nullable=False),  # manual
    Column("counts", JSON, nullable=False),
    Column("late_from", JSON, nullable=False),  # {locked month: points carried into this one}
)
Index("assessment_scores_center", assessment_scores.c.month, assessment_scores.c.center_id)

# Manual adjustments with a reason; append-only (the database refuses UPDATE and DELETE).
assessment_adjustments = Table(
    "assessment_adjustments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("month", Date, nullable=False),
    Column("unit", Text, nullable=False),
    Column("points", Float, nullable=False),  # signed: a bonus is positive
    Column("reason", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
Index("assessment_adjustments_month", assessment_adjustments.c.month)

# --- 空岗, window unattended (ingest/presence_alarms.py, issue 15): migration 0013 -----------------
# Each stretch of time a window's seat was seen empty, from the seat-presence stream (app/base/seat.py).
seat_absences = Table(
    "seat_absences",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("camera_id", Text, nullable=False),
    Column("window_id", Text),
    Column("empty_since", UtcDateTime, nullable=False),
    Column("empty_until", UtcDateTime),  # someone sat down, or the view was lost; NULL while it lasts
    Column("before_still", Text),  # relative to SUPERVISE_VAR_DIR: the last keyframe with someone seated
    Column("after_still", Text),  # the first keyframe of the empty seat
    Column("judged", Boolean, nullable=False),  # over, and every alarm of it has ended
    UniqueConstraint("camera_id", "empty_since", name="seat_absences_identity"),
)
Index("seat_absences_judged", seat_absences.c.judged)

# A window closed for the day (no 空岗 that day), marked by an officer.
window_closures = Table(
    "window_closures",
    metadata,
    Column("window_id", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("closed_by", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)
