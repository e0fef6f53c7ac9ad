"""The supervision orders page's wiring: list and show orders in the user's scope, and take a
step (answer, accept, return, issue) as the logged-in user; a refused step is audited."""

from __future__ import annotations

from dash import Input, Output, State, ctx
from dash.exceptions import PreventUpdate
from sqlalchemy import select

from app.auth import actor_name, audit, current_scope, remote_addr
from app.base.tables import alarms
from app.i18n import current_lang, t
from app.orders import orders
from app.orders.actors import Actor, Refused
from layouts import orders as view

STEPS = {"orders-answer": "answer", "orders-accept": "accept", "orders-return": "return", "orders-issue": "issue"}


def order_step(services, scope, step: str, order_id, fields: dict) -> tuple[bool, str]:
    """Take `step` for the logged-in user; (done, message in the user's language)."""
    lang, now, who = current_lang(), services.clock(), actor_name()
    actor = Actor(who, scope)
    try:
        if step == "answer":
            order = orders.answer(services.engine, actor, order_id, fields.get("cause"), fields.get("measures"), now)
        elif step == "accept":
            order = orders.accept(services.engine, actor, order_id, fields.get("note"), now)
        elif step == "return":
            order = orders.return_order(
                services.engine, actor, order_id, fields.get("note"), now, _rules(services), _days(fields)
            )
        else:
            ids = _alarm_ids(fields.get("alarms"))
            order = orders.issue(
                services.engine,
                actor,
                ids,
                fields.get("instructions"),
                now,
                _rules(services),
                services.reference.get(),
                _days(fields),
            )
            services.relay.nudge()  # the order's actions on its alarms wait in the outbox
    except Refused as exc:
        target = f"order:{order_id}" if step != "issue" else "order:new"
        audit(services.engine, who, "denied", target, {"action": step}, now, remote_addr(services.settings))
        return False, t("orders.refused", lang, reason=str(exc))
    return True, t(f"orders.done.{step}", lang, no=order["order_no"])


def _rules(services):
    from app.base.calendars import CalendarBook

    s = services.settings
    return orders.OrderRules(s.zone, CalendarBook.from_dir(s.calendar_dir), s.order_prefix, s.order_feedback_days)


def _days(fields: dict) -> int | None:
    days = fields.get("days")
    return int(days) if isinstance(days, int | float) and not isinstance(days, bool) else None


def _alarm_ids(text) -> list[int]:
    parts = str(text or "").replace("，", ",").replace(" ", ",").split(",")
    try:
        return [int(p) for p in parts if p.strip()]
    except ValueError:
        raise Refused("alarm ids are numbers separated by commas") from None


def register(app, services) -> None:
    @app.callback(
        Output("orders-list", "children"),
        Output("orders-selected", "options"),
        Input("orders-refresh", "data"),
        Input("orders-state", "value"),
    )
    def listing(_refresh, state):
        scope = current_scope(services)
        rows = orders.orders_in(services.engine, scope, "open" if state != "all" else None, limit=500)
        reference = services.reference.get()
        return view.order_table(rows, reference, current_lang(), services.zone), view.order_options(rows)

    @app.callback(
        Output("orders-detail", "children"),
        Input("orders-selected", "value"),
        Input("orders-refresh", "data"),
    )
    def detail(order_id, _refresh):
        if order_id is None:
            raise PreventUpdate
        scope = current_scope(services)
        order = orders.order_view(services.engine, scope, order_id) if isinstance(order_id, int) else None
        covered = []
        if order is not None:
            with services.engine.connect() as conn:
                query = select(alarms).where(alarms.c.id.in_(order["alarm_ids"])).order_by(alarms.c.id)
                covered = [dict(a) for a in conn.execute(query).mappings()]
        return view.order_detail(order, covered, services.reference.get(), current_lang(), services.zone)

    @app.callback(
        Output("orders-result", "children"),
        Output("orders-refresh", "data"),
        Input("orders-answer", "n_clicks"),
        Input("orders-accept", "n_clicks"),
        Input("orders-return", "n_clicks"),
        Input("orders-issue", "n_clicks"),
        State("orders-selected", "value"),
        State("orders-cause", "value"),
        State("orders-measures", "value"),
        State("orders-note", "value"),
        State("orders-days", "value"),
        State("orders-alarms", "value"),
        State("orders-instructions", "value"),
        State("orders-refresh", "data"),
        prevent_initial_call=True,
    )
    def act(_a, _b, _c, _d, order_id, cause, measures, note, days, alarm_text, instructions, refresh):
        step = STEPS.get(ctx.triggered_id)
        if step is None:
            raise PreventUpdate
        scope = current_scope(services)
        fields = {
            "cause": cause,
            "measures": measures,
            "note": note,
            "days": days,
            "alarms": alarm_text,
            "instructions": instructions,
        }
        if step != "issue" and not isinstance(order_id, int):
            return t("orders.choose", current_lang()), refresh
        _done, message = order_step(services, scope, step, order_id, fields)
        return message, (refresh or 0) + 1
