"""Who may see what: a user's role and scope id become the set of centers and
the department their queries are limited to.

Roles: ``region`` sees everything; ``city`` its own city center and the county
centers below it (centers.parent_id); ``center`` its own center; ``department``
its own department's cases and alarms (dept_id). The server applies the scope in
every query function (:meth:`Scope.where`) and every route (:meth:`Scope.allows`);
hiding links is only a courtesy.

Acting on an alarm (acknowledge, urge, close) and taking evidence are for the
supervision officers above the department (:data:`ACTING_ROLES`): a department
sees the alarms raised against it and may not close them itself. It will answer
them through the supervision-order and appeal flow instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, false, true
from sqlalchemy.sql import ColumnElement

from app.base.tables import ACTING_ROLES, ROLES  # noqa: F401 - said once, beside the users table
from app.queries.reference import Reference


@dataclass(frozen=True)
class Scope:
    role: str
    scope_id: str
    centers: frozenset[str] | None  # None: every center, and places with no center
    dept: str | None = None  # set for department viewers only

    @property
    def may_act(self) -> bool:
        """May acknowledge, urge and close alarms and take evidence (never a department's own viewer)."""
        return self.role in ACTING_ROLES

    @property
    def key(self) -> str:
        """A short stable text for cache keys."""
        return f"{self.role}:{self.scope_id}"

    def where(self, center_col, dept_col) -> ColumnElement:
        """The SQL condition limiting rows with these center and department columns to the scope."""
        conditions = []
        if self.centers is not None:
            conditions.append(center_col.in_(sorted(self.centers)) if self.centers else false())
        if self.dept is not None:
            conditions.append(dept_col == self.dept)
        return and_(true(), *conditions)

    def allows(self, center_id: str | None, dept_id: str | None) -> bool:
        if self.centers is not None and center_id not in self.centers:
            return False
        return self.dept is None or dept_id == self.dept

    def allows_center(self, center_id: str | None) -> bool:
        """May see this center at all (a department viewer sees its own department's center)."""
        return self.centers is None or center_id in self.centers

    def allows_camera(self, reference: Reference, camera_id: str) -> bool:
        camera = reference.cameras.get(camera_id)
        window = reference.windows.get(camera.window_id) if camera else None
        return window is not None and self.allows(window.center_id, window.dept_id)


def scope_for(role: str, scope_id: str, reference: Reference) -> Scope:
    """The scope of a user with `role` over `scope_id`; an unknown id sees nothing."""
    if role == "region":
        return Scope(role, scope_id, None)
    if role == "city":
        known = scope_id in reference.centers
        return Scope(role, scope_id, frozenset(reference.descendants(scope_id)) if known else frozenset())
    if role == "center":
        return Scope(role, scope_id, frozenset({scope_id}) if scope_id in reference.centers else frozenset())
    if role == "department":
        dept = reference.departments.get(scope_id)
        return Scope(role, scope_id, frozenset({dept.center_id}) if dept else frozenset(), scope_id)
    return Scope(role, scope_id, frozenset(), "\x00")  # an unknown role sees nothing


def scope_label(scope: Scope, reference: Reference) -> str:
    if scope.role == "department":
        dept = reference.departments.get(scope.scope_id)
        return f"{reference.center_name(dept.center_id)} {dept.name}" if dept else scope.scope_id
    return reference.center_name(scope.scope_id)
