"""The region overview's wiring: colour the tree by load, list a clicked center's departments."""

from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from app.auth import current_scope
from app.i18n import current_lang
from app.queries import alarms as alarm_queries
from layouts import overview as view


def load(services, scope, by: str = "center", center_id: str | None = None) -> dict:
    """Open alarm load per place, shared by every session of the same scope until an alarm changes."""
    key = f"load:{scope.key}:{by}:{center_id}:{services.board_marker()}"
    value = services.cache.get(key)
    if value is None:
        value = alarm_queries.load_by_place(services.engine, scope, by, center_id)
        services.cache.set(key, value, timeout=60)
    return value


def register(app, services) -> None:
    @app.callback(
        Output("overview-tree", "figure"),
        Input("overview-poll", "n_intervals"),
        State("overview-dark", "data"),
    )
    def tree(_n, dark):
        scope = current_scope(services)
        return view.tree_figure(services.reference.get(), scope, load(services, scope), current_lang(), bool(dark))

    @app.callback(
        Output("overview-departments", "children"),
        Input("overview-tree", "clickData"),
        prevent_initial_call=True,
    )
    def departments(click):
        scope = current_scope(services)
        points = (click or {}).get("points") or []
        center_id = points[0].get("id") if points else None
        if not center_id:
            raise PreventUpdate
        return view.departments_view(
            services.reference.get(), scope, center_id, load(services, scope, "dept", center_id), current_lang()
        )
