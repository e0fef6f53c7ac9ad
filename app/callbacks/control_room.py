"""The control room's wiring: poll for changes and patch the board, show the
selected alarm, and carry out an officer's action.

The board is never redrawn whole once shown. Each second the browser sends the
marker of what it last saw; when nothing changed anywhere the answer is
"no update" after one shared look-up. When something did, the scoped board is
read (cached per scope, filters and marker) and compared with the rows on
screen, and only the differences travel: rows deleted, inserted or replaced,
applied to the page by assets/control_room.js row by row.

The answer itself is cached too (:func:`board_reply`), already serialised:
the sessions of one scope move from the same board to the same next board, so
the first of them works out the row operations and the others get its text.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dash import Input, Output, State, ctx, no_update
from dash._utils import to_json
from dash.exceptions import PreventUpdate

from app.auth import actor_name, audit, current_scope, remote_addr
from app.i18n import current_lang, t
from app.queries import alarms as alarm_queries
from app.queries.alarms import BoardFilters
from layouts import control_room as view

# Escalation is derived from time, so the board re-reads at least this often.
RECHECK_SECONDS = 15
# A board being drawn by one request is not drawn again by the others meanwhile (see BoardBusy).
DRAWING_SECONDS = 5


class BoardBusy(Exception):
    """Another request is drawing this very board: the screen keeps what it shows and asks at its next poll.

    After a change, every session of a scope polls within the same second; a
    region's board takes a while to read, and drawing it once per session at
    the same time would only make each of them wait longer.
    """


@dataclass
class RowDiff:
    deletes: list[int] = field(default_factory=list)  # indexes into the shown list, highest first
    inserts: list[tuple[int, int]] = field(default_factory=list)  # (index in the result, alarm id), lowest first


def diff_rows(shown: list[list], desired: list[tuple[int, str]]) -> RowDiff:
    """The deletions then insertions that turn `shown` [[id, sig], …] into `desired` [(id, sig), …].

    Both lists are in board order (fired_at, id descending), which never changes
    for an alarm, so what survives the deletions is already in order. A row
    whose signature changed is deleted and inserted again at the same place.
    """
    wanted = dict(desired)
    diff = RowDiff()
    kept: set[int] = set()
    for index in range(len(shown) - 1, -1, -1):
        alarm_id, sig = shown[index]
        if wanted.get(alarm_id) == sig:
            kept.add(alarm_id)
        else:
            diff.deletes.append(index)
    diff.inserts = [(index, alarm_id) for index, (alarm_id, _sig) in enumerate(desired) if alarm_id not in kept]
    return diff


@dataclass(frozen=True)
class DrawnBoard:
    """A board ready to send: rows as the browser draws them, with their signatures, and the counters."""

    rows: list  # [(alarm_id, signature, level, row view)], board order
    counts: list  # the counters' children, already serialised


def _newest(marker: str) -> tuple[int, datetime] | None:
    """The newest alarm id and update instant inside a board marker ("stream|id|updated_at")."""
    try:
        _position, newest_id, newest_update = marker.split("|", 2)
        instant = datetime.fromisoformat(newest_update) if newest_update else datetime.min
        return int(newest_id), instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    except ValueError:
        return None


STREAM_LOOKBACK = 500  # more changes than this since a scope last looked: just read its board again


def _touched(services, scope, filters: BoardFilters, version: dict, change_marker: str) -> bool:
    """Did anything in `scope` change since the board `version` was drawn?

    Two witnesses: the alarm stream (every published change names its place, so
    an officer's action with any clock is seen) and the database (new ids and
    newer updates, for writers that do not publish).
    """
    from app.base.alarm_stream import read_after

    old_position, new_position = version["marker"].split("|", 1)[0], change_marker.split("|", 1)[0]
    if old_position != new_position:
        if "?" in (old_position, new_position):
            return True  # Redis was unreachable at one end: no witness, so assume a change
        try:
            _, changes = read_after(services.redis, old_position, count=STREAM_LOOKBACK)
        except Exception:
            return True
        if len(changes) >= STREAM_LOOKBACK:
            return True
        for change in changes:
            if scope.allows(change.center_id, change.dept_id) and all(
                wanted is None or wanted == actual
                for wanted, actual in (
                    (filters.center_id, change.center_id),
                    (filters.dept_id, change.dept_id),
                    (filters.kind, change.kind),
                    (filters.level, change.level),
                )
            ):
                return True
    return alarm_queries.changed_in_scope(services.engine, scope, filters, *version["newest"])


def read_board(
    services, scope, filters: BoardFilters, change_marker: str, bucket: int, lang: str, known: str | None = None
) -> tuple[str, DrawnBoard | None]:
    """The drawn board for a scope, filters and language, and its id; None instead of the board when it is `known`.

    Shared through the cache by every session that asks alike. When the
    region's alarms change, each scope first asks whether the change touched
    it (:func:`_touched`); if not, its board of before is still the board, no
    scope pays for another's alarms, and a session already showing that board
    gets nothing but the new marker. Every RECHECK_SECONDS the board is read
    again regardless (escalation moves with time, and a row committed late is
    picked up). Raises :class:`BoardBusy` while another request draws the same board.
    """
    place = board_place(scope, filters)
    version_key = f"board-version:{place}"
    version = services.cache.get(version_key)
    newest = _newest(change_marker)
    if (
        version
        and version["bucket"] == bucket
        and version["marker"] != change_marker
        and newest
        and version["newest"]
        and not _touched(services, scope, filters, version, change_marker)
    ):
        version = {**version, "marker": change_marker, "newest": newest}
        services.cache.set(version_key, version, timeout=120)
    if version and version["bucket"] == bucket and version["marker"] == change_marker:
        if known is not None and version["drawn"] == known:
            return known, None
        drawn = services.cache.get(f"board:{lang}:{version['drawn']}")
        if drawn is not None:
            return version["drawn"], drawn
    drawn_id = f"{place}:{change_marker}:{bucket}"
    drawing = f"supervise:web:board-drawing:{lang}:{drawn_id}"
    if not _claim(services.redis, drawing):
        raise BoardBusy(drawn_id)
    try:
        drawn = _draw(services, scope, filters, lang)
        services.cache.set(f"board:{lang}:{drawn_id}", drawn, timeout=120)
        services.cache.set(
            version_key, {"bucket": bucket, "marker": change_marker, "newest": newest, "drawn": drawn_id}, timeout=120
        )
    finally:
        _release(services.redis, drawing)
    return drawn_id, drawn


def _draw(services, scope, filters: BoardFilters, lang: str) -> DrawnBoard:
    now = services.clock()
    board = alarm_queries.board(services.engine, scope, filters, now, services.escalate_after)
    reference = services.reference.get()
    rows = []
    for r in board.rows:
        escalated = alarm_queries.is_escalated(r, now, services.escalate_after)
        rows.append(
            (
                r["id"],
                view.row_signature(r, escalated),
                r["level"],
                view.row_view(r, reference, lang, services.zone, escalated, services.escalate_after),
            )
        )
    counts = json.loads(to_json(view.counts_children(board, len(rows), lang)))
    return DrawnBoard(rows, counts)


def _claim(redis, key: str) -> bool:
    try:
        return bool(redis.set(key, "1", nx=True, ex=DRAWING_SECONDS))
    except Exception:  # without Redis every request draws for itself: slower, never stuck
        return True


def _release(redis, key: str) -> None:
    try:
        redis.delete(key)
    except Exception:  # it expires by itself
        pass


def board_place(scope, filters: BoardFilters) -> str:
    """The cache identity of a board: whose scope and which filters, as a digest of the parts
    (joined with ':' a department id containing ':' could pass for another scope's)."""
    parts = [scope.role, scope.scope_id, filters.center_id, filters.dept_id, filters.kind, filters.level]
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Reply:
    """A poll's answer for one board and one screen state, the large parts already JSON."""

    drawn_id: str
    ops: str | None = None  # the row operations as JSON text; None: the rows on screen stay
    shown: list | None = None  # [[alarm id, signature], …] now on screen, with `ops`
    counts: list | None = None  # the counters' children; None: unchanged
    new_red: tuple = ()  # new red alarms: the browser sounds and flashes


def board_reply(
    services,
    scope,
    filters: BoardFilters,
    lang: str,
    change_marker: str,
    bucket: int,
    known: str | None,
    shown: list | None,
    live: bool,
) -> Reply:
    """What to send a screen showing `shown` (board `known`), shared through the cache by every
    session of the scope that shows the same and asks at the same marker.

    The key names the scope (through :func:`board_place`), so a session can only
    ever receive an answer worked out from its own scope's board.
    """
    key = (
        "board-reply:"
        + hashlib.sha256(
            json.dumps(
                [board_place(scope, filters), lang, change_marker, bucket, known, live, shown],
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()
    )
    reply = services.cache.get(key)
    if reply is None:
        drawn_id, board = read_board(services, scope, filters, change_marker, bucket, lang, known)
        reply = _reply(drawn_id, board, shown, live)
        services.cache.set(key, reply, timeout=120)
    return reply


def _reply(drawn_id: str, board: DrawnBoard | None, shown: list | None, live: bool) -> Reply:
    if board is None:  # the board on screen is still the board: only the marker moves
        return Reply(drawn_id)
    desired = [(alarm_id, sig) for alarm_id, sig, _, _ in board.rows]
    by_id = {alarm_id: (level, row) for alarm_id, _, level, row in board.rows}
    new_shown = [list(d) for d in desired]
    if shown is None:  # first render of this page
        ops = {"reset": True, "deletes": [], "inserts": [[i, by_id[a][1]] for i, (a, _) in enumerate(desired)]}
        return Reply(drawn_id, _json(ops), new_shown, board.counts)
    diff = diff_rows(shown, desired)
    if not diff.deletes and not diff.inserts:
        return Reply(drawn_id, counts=board.counts)
    before = {alarm_id for alarm_id, _ in shown}
    new_red = []
    inserts = []
    for index, alarm_id in diff.inserts:
        level, row = by_id[alarm_id]
        fresh = live and alarm_id not in before
        if fresh and level == "alarm":
            new_red.append(alarm_id)
        inserts.append([index, {**row, "fresh": True} if fresh else row])
    ops = {"reset": False, "deletes": diff.deletes, "inserts": inserts}
    return Reply(drawn_id, _json(ops), new_shown, board.counts, tuple(new_red))


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def officer_action(services, scope, alarm_id, action: str, note: str) -> tuple[bool, str]:
    """Carry out ack/urge/close for the logged-in officer; returns (done, message in the user's language)."""
    from ingest.actions import ActionRefused, act

    lang = current_lang()
    now = services.clock()
    who = actor_name()
    if not scope.may_act:
        audit(
            services.engine,
            who,
            "denied",
            f"alarm:{alarm_id}",
            {"action": action, "reason": "role"},
            now,
            remote_addr(services.settings),
        )
        return False, t("cr.refused", lang, reason=t("role.view_only", lang))
    if not isinstance(alarm_id, int) or alarm_queries.alarm(services.engine, scope, alarm_id) is None:
        audit(
            services.engine, who, "denied", f"alarm:{alarm_id}", {"action": action}, now, remote_addr(services.settings)
        )
        return False, t("cr.refused", lang, reason=t("page.forbidden", lang))
    if not (note or "").strip():
        return False, t("cr.note_required", lang)
    try:
        result = act(services.engine, alarm_id, action, who, note, now)
    except ActionRefused as exc:
        return False, t("cr.refused", lang, reason=str(exc))
    audit(
        services.engine,
        who,
        f"alarm_{action}",
        f"alarm:{alarm_id}",
        {"note": note.strip(), "action_id": result.action_id},
        now,
        remote_addr(services.settings),
    )
    services.relay.nudge()  # the action's message waits in the outbox until a relay publishes it
    return True, t(f"cr.done.{action}", lang, id=alarm_id)


def register(app, services) -> None:
    @app.callback(
        Output("control-room-ops", "data"),
        Output("control-room-shown", "data"),
        Output("control-room-position", "data"),
        Output("control-room-counts", "children"),
        Output("control-room-new-red", "data"),
        Input("control-room-poll", "n_intervals"),
        Input("control-room-filter-center", "value"),
        Input("control-room-filter-dept", "value"),
        Input("control-room-filter-kind", "value"),
        Input("control-room-filter-level", "value"),
        State("control-room-shown", "data"),
        State("control-room-position", "data"),
    )
    def poll(n, center, dept, kind, level, shown, position):
        scope = current_scope(services)
        lang = current_lang()
        filters = BoardFilters(center or None, dept or None, kind or None, level or None)
        now = services.clock()
        # Each scope re-reads on its own beat within RECHECK_SECONDS, so the boards of a
        # hundred scopes are not all read again in the same instant.
        offset = zlib.crc32(scope.key.encode()) % RECHECK_SECONDS
        change_marker, bucket = services.board_marker(), int((now.timestamp() + offset) // RECHECK_SECONDS)
        marker = f"{change_marker}|{bucket}|{filters}"
        seen_marker, _, seen_board = (position or "").partition("#")
        live = ctx.triggered_id == "control-room-poll"
        if marker == seen_marker and live:
            raise PreventUpdate
        known = seen_board if shown is not None and live else None
        try:
            reply = board_reply(services, scope, filters, lang, change_marker, bucket, known, shown, live)
        except BoardBusy:
            raise PreventUpdate from None
        position = f"{marker}#{reply.drawn_id}"
        counts = no_update if reply.counts is None else reply.counts
        if reply.ops is None:
            return no_update, no_update, position, counts, no_update
        # `n` makes each message new to Dash, so the browser applies it even when equal to the last.
        return (
            {"n": n, "json": reply.ops},
            reply.shown,
            position,
            counts,
            {"ids": list(reply.new_red), "n": n} if reply.new_red else no_update,
        )

    @app.callback(
        Output("control-room-filter-dept", "options"),
        Input("control-room-filter-center", "value"),
    )
    def dept_choices(center):
        scope = current_scope(services)
        return view.dept_options(services.reference.get(), scope, center)

    app.clientside_callback(
        "function(ops) { return window.superviseApplyBoard(ops); }",
        Output("control-room-applied", "data"),
        Input("control-room-ops", "data"),
        prevent_initial_call=True,
    )

    # Sound and flash run in the browser: a new red must be noticed even when nobody looks.
    app.clientside_callback(
        "function(newRed, sound) { return window.superviseAlert(newRed, sound); }",
        Output("control-room-alerted", "data"),
        Input("control-room-new-red", "data"),
        State("control-room-sound", "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("control-room-detail", "children"),
        Input("control-room-selected", "data"),
        Input("control-room-acted", "data"),
        prevent_initial_call=True,
    )
    def detail(alarm_id, _acted):
        scope = current_scope(services)
        lang = current_lang()
        if not isinstance(alarm_id, int):
            raise PreventUpdate
        row = alarm_queries.alarm(services.engine, scope, alarm_id)
        if row is None:
            audit(
                services.engine,
                actor_name(),
                "denied",
                f"alarm:{alarm_id}",
                {"view": "detail"},
                services.clock(),
                remote_addr(services.settings),
            )
            return t("page.forbidden", lang)
        actions = alarm_queries.actions(services.engine, scope, [alarm_id])
        return view.alarm_detail(row, actions, services.reference.get(), lang, services.zone)

    @app.callback(
        Output("control-room-result", "children"),
        Output("control-room-note", "value"),
        Output("control-room-acted", "data"),
        Input("control-room-ack", "n_clicks"),
        Input("control-room-urge", "n_clicks"),
        Input("control-room-close", "n_clicks"),
        State("control-room-selected", "data"),
        State("control-room-note", "value"),
        State("control-room-acted", "data"),
        prevent_initial_call=True,
    )
    def act_on_alarm(_ack, _urge, _close, alarm_id, note, acted):
        scope = current_scope(services)
        action = {"control-room-ack": "ack", "control-room-urge": "urge", "control-room-close": "close"}.get(
            ctx.triggered_id
        )
        if action is None or alarm_id is None:
            raise PreventUpdate
        done, message = officer_action(services, scope, alarm_id, action, note or "")
        return message, ("" if done else no_update), (acted or 0) + 1
