"""The video wall's wiring: the chosen cameras become tiles (each checked against the scope)."""

from __future__ import annotations

from dash import ALL, Input, Output, ctx

from app.auth import current_scope
from app.i18n import current_lang
from layouts import wall as view


def register(app, services) -> None:
    @app.callback(Output("wall-grid", "children"), Input("wall-cameras", "value"))
    def show(camera_ids):
        scope = current_scope(services)
        return view.tiles(services.reference.get(), scope, list(camera_ids or []), current_lang())

    @app.callback(
        Output({"type": "wall-badge", "camera": ALL}, "children"),
        Input("wall-badge-tick", "n_intervals"),
        Input("wall-grid", "children"),
    )
    def badges(_tick, _tiles):
        return _badges()

    @app.callback(Output({"type": "live-badge", "camera": ALL}, "children"), Input("live-badge-tick", "n_intervals"))
    def live_badge(_tick):  # the case page's live view
        return _badges()

    def _badges():
        from app.queries.presence import unattended

        shown = [output["id"]["camera"] for output in ctx.outputs_list]
        scope, reference = current_scope(services), services.reference.get()
        allowed = [
            c for c in shown if reference.cameras.get(c) and scope.allows_camera(reference, c)
        ]  # ids come from the browser
        found = unattended(services.engine, allowed)
        return [view.badge(found.get(camera_id), current_lang()) for camera_id in shown]
