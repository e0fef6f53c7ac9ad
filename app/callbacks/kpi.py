"""Callbacks of the kpi page."""
from __future__ import annotations


def register(app, services) -> None:
    pass
