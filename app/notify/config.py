"""The routing file in use: SUPERVISE_ROUTES, or the default routes (rules.routing.DEFAULT_ROUTES).

Reading the file is I/O, so it lives here; what it means is ``rules.routing``. A fault is
refused at start-up in one line naming the file, the line and the fault.
"""

from __future__ import annotations

from pathlib import Path

from rules.routing import DEFAULT_ROUTES, Routes, RoutesError, parse_routes


def read_routes(path: Path | None) -> Routes:
    if path is None:
        return parse_routes(DEFAULT_ROUTES)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutesError(f"cannot read routing file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return parse_routes(text)
    except RoutesError as exc:
        raise RoutesError(f"{path}: {exc}") from None
