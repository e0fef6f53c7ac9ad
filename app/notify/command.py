"""`supervise contact …`, `supervise routes …` and `supervise notify`.

Listings are one JSON object per line, phones and e-mail addresses masked.
Bad input ends in one line and exit 2, never a traceback.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from app.base.json_lines import emit, emit_listing, limit_option


def _settings():
    from app.base.settings import load

    try:
        return load()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


# --- supervise contact ------------------------------------------------------------------------


@click.group("contact")
def contact_command() -> None:
    """Who is responsible where: the people alarms are sent to, per center and department."""


@contact_command.command("add")
@click.argument("name")
@click.option("--role", required=True, help="窗口负责人, 中心督查员, 分管领导 …")
@click.option("--center", "center_id", required=True, help="The center's id.")
@click.option("--dept", "dept_id", default="", help="The department's id; omitted: the center itself.")
@click.option("--mobile", help="Mainland mobile number (SMS, and @-mentions in WeCom/DingTalk).")
@click.option("--email", help="E-mail address.")
@click.option("--wecom-user", help="WeCom user id.")
@click.option("--dingtalk-user", help="DingTalk user id.")
@click.option("--by", "actor", default="cli", show_default=True, help="Who makes the change (audited).")
def contact_add(name, role, center_id, dept_id, mobile, email, wecom_user, dingtalk_user, actor) -> None:
    """Add a contact; the same name and role at the same place is updated instead."""
    from app.base.database import open_database
    from app.notify import contacts

    settings = _settings()
    try:
        contact_id = contacts.add(
            open_database(settings),
            name=name,
            role=role,
            center_id=center_id,
            dept_id=dept_id,
            mobile=mobile,
            email=email,
            wecom_user=wecom_user,
            dingtalk_user=dingtalk_user,
            by=actor,
            now=datetime.now(UTC),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    emit({"id": contact_id, "name": name.strip(), "center_id": center_id, "dept_id": dept_id or None})


@contact_command.command("list")
@click.option("--json", "as_json", is_flag=True, required=True, help="One JSON object per line (the only format).")
@click.option("--center", "center_ids", multiple=True, help="Only this center's contacts (repeatable).")
@click.option("--dept", "dept_id", help="Only this department's contacts.")
@limit_option("contacts")
def contact_list(as_json: bool, center_ids: tuple[str, ...], dept_id: str | None, limit: int) -> None:
    """List contacts (mobile and e-mail masked)."""
    from app.base.database import open_database
    from app.base.json_lines import fetch_size
    from app.notify import contacts

    found = contacts.listing(open_database(_settings()), center_ids or None, dept_id, fetch_size(limit))
    emit_listing(map(contacts.shown, found), limit, "contacts")


@contact_command.command("remove")
@click.argument("contact_id", type=click.IntRange(min=1, max=2**63 - 1))
@click.option("--by", "actor", default="cli", show_default=True, help="Who makes the change (audited).")
def contact_remove(contact_id: int, actor: str) -> None:
    """Remove a contact by its id."""
    from app.base.database import open_database
    from app.notify import contacts

    if not contacts.remove(open_database(_settings()), contact_id, by=actor, now=datetime.now(UTC)):
        raise click.UsageError(f"no contact {contact_id}")
