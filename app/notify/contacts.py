"""Who is responsible where: people of a center, or of one department in it, with their role
and how to reach them. Phones and addresses leave this module whole only for a receiver;
every listing masks them (:func:`shown`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, or_, select, update

from app.base.tables import audit_log, contacts
from app.sms.phones import is_mobile, mask_phone, normalize_phone

ROLES = ("窗口负责人", "中心督查员", "分管领导", "科室负责人", "督查专员")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    role: str
    center_id: str
    dept_id: str  # '' : the center itself
    mobile: str | None
    email: str | None
    wecom_user: str | None
    dingtalk_user: str | None


def _contact(row) -> Contact:
    return Contact(*(row[name] for name in Contact.__slots__))


def checked(name: str, role: str, mobile: str | None, email: str | None) -> tuple[str, str, str | None, str | None]:
    """The name, role, mobile (normal form) and e-mail to store, or ValueError saying what is wrong."""
    name, role = name.strip(), role.strip()
    if not name:
        raise ValueError("a contact needs a name")
    if not role:
        raise ValueError("a contact needs a role (e.g. " + ", ".join(ROLES[:3]) + ")")
    if mobile:
        phone = normalize_phone(mobile)
        if not is_mobile(phone):
            raise ValueError(f"{mask_phone(mobile)} is not a mainland mobile number")
        mobile = phone
    if email and not _EMAIL.fullmatch(email.strip()):
        raise ValueError(f"{email!r} is not an e-mail address")
    return name, role, mobile or None, (email.strip() if email else None)


def add(
    engine: Engine,
    *,
    name: str,
    role: str,
    center_id: str,
    dept_id: str = "",
    mobile: str | None = None,
    email: str | None = None,
    wecom_user: str | None = None,
    dingtalk_user: str | None = None,
    by: str,
    now: datetime,
) -> int:
    """Add a contact, or replace how to reach the one with this name and role at this place; audited."""
    name, role, mobile, email = checked(name, role, mobile, email)
    reach = {"mobile": mobile, "email": email, "wecom_user": wecom_user or None, "dingtalk_user": dingtalk_user or None}
    place = {"center_id": center_id, "dept_id": dept_id or "", "name": name, "role": role}
    with engine.begin() as conn:
        found = conn.execute(
            select(contacts.c.id).where(*(contacts.c[k] == v for k, v in place.items())).with_for_update()
        ).scalar()
        if found is None:
            found = conn.execute(
                insert(contacts).values(**place, **reach, created_at=now, updated_at=now).returning(contacts.c.id)
            ).scalar_one()
        else:
            conn.execute(update(contacts).where(contacts.c.id == found).values(**reach, updated_at=now))
        _audit(conn, by, "contact_add", found, {**place, "mobile": mask_phone(mobile)}, now)
    return found


def remove(engine: Engine, contact_id: int, *, by: str, now: datetime) -> bool:
    with engine.begin() as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).mappings().first()
        if row is None:
            return False
        conn.execute(delete(contacts).where(contacts.c.id == contact_id))
        _audit(conn, by, "contact_remove", contact_id, {"name": row["name"], "center_id": row["center_id"]}, now)
    return True


def _audit(conn, actor: str, action: str, contact_id: int, detail: dict, now: datetime) -> None:
    conn.execute(
        insert(audit_log).values(at=now, actor=actor, action=action, target=f"contact:{contact_id}", detail=detail)
    )


def listing(
    engine: Engine, center_ids: Iterable[str] | None = None, dept_id: str | None = None, limit: int | None = None
) -> list[Contact]:
    query = select(contacts).order_by(contacts.c.center_id, contacts.c.dept_id, contacts.c.id).limit(limit)
    if center_ids is not None:
        query = query.where(contacts.c.center_id.in_(list(center_ids)))
    if dept_id is not None:
        query = query.where(contacts.c.dept_id == dept_id)
    with engine.connect() as conn:
        return [_contact(row) for row in conn.execute(query).mappings()]


def responsible(engine: Engine, places: Iterable[tuple[str, str]], roles: Iterable[str] = ()) -> list[Contact]:
    """The contacts of these (center, department) places (department '' : the center itself),
    only those with one of `roles` if any are given; each person once."""
    places = list(dict.fromkeys(places))
    if not places:
        return []
    query = select(contacts).where(
        or_(*((contacts.c.center_id == center) & (contacts.c.dept_id == (dept or "")) for center, dept in places))
    )
    roles = list(roles)
    if roles:
        query = query.where(contacts.c.role.in_(roles))
    with engine.connect() as conn:
        found = [_contact(row) for row in conn.execute(query.order_by(contacts.c.id)).mappings()]
    return list({(c.name, c.mobile, c.email): c for c in found}.values())


class Book:
    """Every contact, read once (a flush of thousands of groups asks for each group's people)."""

    def __init__(self, engine: Engine):
        self._by_place: dict[tuple[str, str], list[Contact]] = {}
        with engine.connect() as conn:
            for row in conn.execute(select(contacts).order_by(contacts.c.id)).mappings():
                self._by_place.setdefault((row["center_id"], row["dept_id"]), []).append(_contact(row))

    def responsible(self, places: Iterable[tuple[str, str]], roles: Iterable[str] = ()) -> list[Contact]:
        """As :func:`responsible`, from what was read."""
        roles = set(roles)
        found = [
            c
            for center, dept in dict.fromkeys(places)
            for c in self._by_place.get((center, dept or ""), [])
            if not roles or c.role in roles
        ]
        return list({(c.name, c.mobile, c.email): c for c in found}.values())


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return value
    local, domain = value.split("@", 1)
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def shown(contact: Contact) -> dict:
    """A contact as officers and listings see it: phone and e-mail masked."""
    return {
        "id": contact.id,
        "name": contact.name,
        "role": contact.role,
        "center_id": contact.center_id,
        "dept_id": contact.dept_id or None,
        "mobile": mask_phone(contact.mobile),
        "email": mask_email(contact.email),
        "wecom_user": contact.wecom_user,
        "dingtalk_user": contact.dingtalk_user,
    }
