"""Dash callbacks, one module per page, each beside its layout in ``layouts/``.

Every callback starts from :func:`app.auth.current_scope`, and every query it
makes takes that scope: the server decides what a user sees, in every callback.
"""

from __future__ import annotations


def register_all(dash_app, services) -> None:
    from app.callbacks import case, control_room, kpi, orders, overview, shell, wall

    for module in (shell, control_room, case, kpi, overview, wall, orders):
        module.register(dash_app, services)
