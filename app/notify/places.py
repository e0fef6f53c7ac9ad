"""The three levels of centers (county → city → region), and their names, from the exchange
database: a city's route matches its counties, and escalation climbs this ladder."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.base import exchange, outage

log = logging.getLogger(__name__)


@dataclass
class CenterTree:
    parent: dict[str, str | None] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    dept_names: dict[str, str] = field(default_factory=dict)

    def above(self, center_id: str | None) -> tuple[str, ...]:
        """The center's parents, nearest first: a county center's city center, then the region."""
        chain: list[str] = []
        current = self.parent.get(center_id or "")
        while current and current not in chain and len(chain) < 8:
            chain.append(current)
            current = self.parent.get(current)
        return tuple(chain)

    def name(self, center_id: str | None) -> str:
        return self.names.get(center_id or "", center_id or "")

    def dept_name(self, dept_id: str | None) -> str:
        return self.dept_names.get(dept_id or "", dept_id or "")


def read_tree(engine: Engine) -> CenterTree:
    """Centers and departments; an unreachable exchange database gives an empty tree (ids stand for names)."""
    tree = CenterTree()
    try:
        with engine.connect() as conn:
            for center_id, name, parent_id in conn.execute(
                select(exchange.centers.c.center_id, exchange.centers.c.name, exchange.centers.c.parent_id)
            ):
                tree.parent[center_id] = parent_id
                tree.names[center_id] = name
            for dept_id, name in conn.execute(select(exchange.departments.c.dept_id, exchange.departments.c.name)):
                tree.dept_names[dept_id] = name
    except SQLAlchemyError as exc:
        if not outage.transient(exc):
            log.warning("cannot read centers from the exchange database: %s", outage.describe(exc))
    return tree


def tree_of(settings) -> CenterTree:
    """The tree from the configured exchange database; an absent SQLite file is not created to find nothing."""
    from app.base.database import Limits
    from app.base.exchange import exchange_engine

    url = make_url(settings.exchange_url_resolved)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return CenterTree()
    engine = exchange_engine(settings.exchange_url_resolved, Limits.of(settings))
    try:
        return read_tree(engine)
    finally:
        engine.dispose()
