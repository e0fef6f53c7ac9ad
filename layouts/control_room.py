"""The control room (监控大厅): live board of open warnings and alarms, filters,
counters, and the panel where an officer acknowledges, urges or closes one.

The board's rows are patched in place by ``app/callbacks/control_room.py``;
:func:`board_row` is the one place a row is drawn, for the first render and
every patch alike.
"""

from __future__ import annotations

from datetime import timedelta

from dash import dcc, html

from app import links
from app.base.display import CELL, DETAIL, LABEL, TITLE, TOOLTIP, local, option, shown, tooltip
from app.catalogue import STRINGS
from app.i18n import action_note, actor_label, kind_label, level_label, state_label, subject_label, t
from app.wording import place

KINDS = tuple(key.split(".", 1)[1] for key in STRINGS if key.startswith("kind."))
POLL_MS = 1000


def center_options(reference, scope) -> list[dict]:
    choices = (
        option(c.center_id, c.name)
        for c in sorted(reference.centers.values(), key=lambda c: c.center_id)
        if scope.allows_center(c.center_id)
    )
    return [c for c in choices if c]


def dept_options(reference, scope, center_id: str | None) -> list[dict]:
    def choice(d):
        if center_id:
            return option(d.dept_id, d.name)
        center = reference.center_name(d.center_id)
        return option(d.dept_id, f"{d.name}（{center}）", f"{shown(d.name, LABEL)}（{shown(center, LABEL)}）")

    choices = (
        choice(d)
        for d in sorted(reference.departments.values(), key=lambda d: d.dept_id)
        if scope.allows(d.center_id, d.dept_id) and (not center_id or d.center_id == center_id)
    )
    return [c for c in choices if c]


def row_signature(row: dict, escalated: bool) -> str:
    """What makes a drawn row out of date: a change of state, an urge, an escalation."""
    return f"{row['state']}|{row['urged_at']}|{int(escalated)}"


def row_view(
    row: dict, reference, lang: str, zone, escalated: bool, escalate_after: timedelta, fresh: bool = False
) -> dict:
    """One board row as the browser draws it (assets/control_room.js): every text already in the user's language.

    The board's rows are drawn by the browser, not by Dash: Dash remounts every
    child of a component whose children change, which would redraw (and flash)
    the whole board for each new alarm. The browser inserts and deletes single rows.
    """
    minutes = int(escalate_after.total_seconds() // 60)
    upstream = {  # capped in the row, more in the cell's hover; the alarm's panel shows the most
        "kind": kind_label(row["kind"], lang)
        + (f" · {subject_label(row['kind'], row['subject'], lang)}" if row["subject"] else ""),
        "case": row["case_no"] or "",
        "camera": row["camera_id"] or "",
    }
    titles = {name: hover for name, text in upstream.items() if (hover := tooltip(text, CELL))}
    if any(tooltip(name, LABEL) for name in reference.place_names(row)):
        titles["place"] = place(row, reference, TOOLTIP)
    return {
        "id": row["id"],
        "level": row["level"],
        "state": row["state"],
        "escalated": escalated,
        "fresh": fresh,
        "case_href": links.case_page(row["case_no"]) if row["case_no"] else "",
        "cells": {
            "level": level_label(row["level"], lang),
            **{name: shown(text, CELL) for name, text in upstream.items()},
            "place": place(row, reference, LABEL),
            "fired": local(row["fired_at"], zone),
            "due": row["due"].isoformat() if row["due"] else "",
            "state": state_label(row["state"], lang),
            "urged": t("cr.urged", lang) if row["urged_at"] else "",
            "escalated": t("cr.escalated", lang, minutes=minutes) if escalated else "",
        },
        "titles": titles,
    }


def board_header(lang: str):
    return html.Div(
        className="control-room-row control-room-head",
        children=[
            html.Span(t(key, lang), className=f"cell cell-{name}")
            for key, name in (
                ("cr.col.level", "level"),
                ("cr.col.kind", "kind"),
                ("cr.col.case", "case"),
                ("cr.col.place", "place"),
                ("cr.col.fired", "fired"),
                ("cr.col.due", "due"),
                ("cr.col.state", "state"),
            )
        ],
    )


def board_block(lang: str, query: dict, reference, scope, kiosk: bool = False):
    """The board with its filters and counters: all the ids the poll callback needs."""
    center = query.get("center") if query.get("center") and scope.allows_center(query.get("center")) else None
    dropdown = dict(clearable=True, className="control-room-filter")
    filters = html.Div(
        className="control-room-filters" + (" hidden" if kiosk else ""),
        children=[
            dcc.Dropdown(
                id="control-room-filter-center",
                options=center_options(reference, scope),
                value=center,
                placeholder=t("cr.filter.center", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="control-room-filter-dept",
                options=dept_options(reference, scope, center),
                value=query.get("dept") or None,
                placeholder=t("cr.filter.dept", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="control-room-filter-kind",
                value=query.get("kind") or None,
                options=[{"label": kind_label(k, lang), "value": k} for k in KINDS],
                placeholder=t("cr.filter.kind", lang),
                **dropdown,
            ),
            dcc.Dropdown(
                id="control-room-filter-level",
                value=query.get("level") or None,
                options=[{"label": level_label(k, lang), "value": k} for k in ("alarm", "warning")],
                placeholder=t("cr.filter.level", lang),
                **dropdown,
            ),
            dcc.Checklist(
                id="control-room-sound",
                options=[{"label": t("cr.sound", lang), "value": "on"}],
                value=["on"],
                className="control-room-sound",
            ),
            html.A(
                t("cr.snapshot_pdf", lang),
                href="/pdf/control-room.pdf",
                target="_blank",
                id="control-room-pdf",
                className="button-link",
            ),
        ],
    )
    return html.Div(
        id="control-room-board",
        className="control-room-board",
        children=[
            filters,
            html.Div(id="control-room-counts", className="control-room-counts"),
            board_header(lang),
            # Rows are inserted and removed by assets/control_room.js from the ops below; Dash never redraws them.
            html.Div(id="control-room-grid", className="control-room-grid"),
            dcc.Store(id="control-room-ops", data=None),
            dcc.Store(id="control-room-applied", data=None),
            dcc.Store(id="control-room-shown", data=None),
            dcc.Store(id="control-room-position", data=None),
            dcc.Store(id="control-room-new-red", data=None),
            dcc.Store(id="control-room-alerted", data=None),
            dcc.Interval(id="control-room-poll", interval=POLL_MS),
        ],
    )


def counts_children(board, shown: int, lang: str):
    return [
        html.Span(
            t("cr.count.alarm", lang, n=board.alarm_count), className="count count-alarm", id="control-room-count-alarm"
        ),
        html.Span(
            t("cr.count.warning", lang, n=board.warning_count),
            className="count count-warning",
            id="control-room-count-warning",
        ),
        html.Span(t("cr.count.escalated", lang, n=board.escalated_count), className="count count-escalated"),
        html.Span(t("cr.count.shown", lang, shown=shown, total=board.total), className="count count-shown"),
    ] + ([html.Span(t("cr.empty", lang), className="count")] if not board.total else [])


def action_panel(lang: str, may_act: bool):
    """The selected alarm, and the officer's note and buttons (none for a department's own viewer)."""
    if not may_act:
        acting = [html.P(t("role.view_only", lang), id="control-room-view-only", className="control-room-hint")]
    else:
        acting = [
            dcc.Textarea(id="control-room-note", placeholder=t("cr.note", lang), className="control-room-note"),
            html.Div(
                className="control-room-buttons",
                children=[
                    html.Button(t("cr.ack", lang), id="control-room-ack", className="button"),
                    html.Button(t("cr.urge", lang), id="control-room-urge", className="button"),
                    html.Button(t("cr.close", lang), id="control-room-close", className="button button-danger"),
                ],
            ),
            html.Div(id="control-room-result", className="control-room-result", role="status"),
        ]
    return html.Aside(
        id="control-room-panel",
        className="control-room-panel",
        children=[
            dcc.Store(id="control-room-selected", data=None),
            dcc.Store(id="control-room-acted", data=0),
            html.Div(t("cr.select_hint" if may_act else "cr.select_hint_view", lang), id="control-room-detail"),
            *acting,
        ],
    )


def alarm_detail(row: dict, actions: list[dict], reference, lang: str, zone):
    """The alarm's panel: its detail view, where upstream text is shown whole."""
    lines = [
        html.H3(f"#{row['id']} {kind_label(row['kind'], lang)}", id="control-room-detail-title"),
        html.P(f"{level_label(row['level'], lang)} · {state_label(row['state'], lang)}"),
        html.P(place(row, reference, DETAIL, staff=True), className="long-text"),
    ]
    if row["subject"]:
        lines.append(html.P(shown(subject_label(row["kind"], row["subject"], lang), DETAIL), className="long-text"))
    if row["case_no"]:
        lines.append(
            dcc.Link(
                [t("cr.open_case", lang), " ", html.Span(shown(row["case_no"], TITLE), className="case-no")],
                href=links.case_page(row["case_no"]),
                id="control-room-case-link",
            )
        )
    lines.append(html.H4(t("cr.actions", lang)))
    lines.append(
        html.Ul(
            [
                html.Li(
                    f"{local(a['at'], zone)} {t('action.' + a['action'], lang)} · {shown(actor_label(a['actor'], lang))}"
                    + (f"：{shown(note, DETAIL)}" if (note := action_note(a, row, lang)) else ""),
                    className="long-text",
                )
                for a in actions
            ],
            className="control-room-actions",
        )
    )
    return lines


def layout(reference, scope, lang: str, query: dict):
    return html.Div(
        className="control-room",
        children=[
            board_block(lang, query, reference, scope),
            action_panel(lang, scope.may_act),
        ],
    )
