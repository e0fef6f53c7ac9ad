"""The video wall's wiring: the chosen cameras become tiles (each checked against the scope)."""

from __future__ import annotations

from dash import Input, Output

from app.auth import current_scope
from app.i18n import current_lang
from layouts import wall as view


def register(app, services) -> None:
    @app.callback(Output("wall-grid", "children"), Input("wall-cameras", "value"))
    def show(camera_ids):
        scope = current_scope(services)
        return view.tiles(services.reference.get(), scope, list(camera_ids or []), current_lang())
