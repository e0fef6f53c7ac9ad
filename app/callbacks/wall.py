"""Callbacks of the wall page."""
from __future__ import annotations


def register(app, services) -> None:
    pass
