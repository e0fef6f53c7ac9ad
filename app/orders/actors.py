"""Who acts: a named dashboard user with the scope of their role."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from app.base.tables import users
from app.queries.reference import Reference
from app.scope import Scope, scope_for


class Refused(ValueError):
    """The step does not apply as things stand, or the user may not take it; the message says why."""


@dataclass(frozen=True)
class Actor:
    name: str
    scope: Scope

    @property
    def officer(self) -> bool:
        """An officer of the region, a city or a center (may issue, accept, return, decide)."""
        return self.scope.may_act

    @property
    def department(self) -> str | None:
        """The department whose user this is (None for an officer)."""
        return self.scope.dept if self.scope.role == "department" else None


def actor_of(engine: Engine, reference: Reference, name: str) -> Actor:
    """The active user `name` with their scope; an unknown or removed user is refused."""
    name = (name or "").strip()
    if not name:
        raise Refused("a step needs the user's name (--by)")
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.role, users.c.scope_id).where(users.c.name == name, users.c.active.is_(True))
        ).first()
    if row is None:
        raise Refused(f"no active user {name!r} (supervise user add)")
    return Actor(name, scope_for(row.role, row.scope_id, reference))
