"""The item catalogue (政务服务事项) as the ingest judges by it: which items can be used,
and which are refused, with a reason a person can read.

The ``items`` table is kept by the region's service-center office, but it is an
upstream table like any other: a row may hold a limit no law sets (a date typed
into ``promised_days``), a day unit that is neither, a fee that is no amount. Such
an item is refused rather than trusted: it goes to the data-quality log, and the
cases received for it are taken in but set aside until the row is fixed (see
``Ingest.load_items`` and rules/DECISIONS.md, "Bad input that stops nothing").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select

from app.base.exchange import items as exchange_items
from ingest import store
from rules.clocks import Item
from rules.events import MAX_DAYS, MAX_FEE, MAX_ID_CHARS

SOURCE = "items"  # the quality log's source for a refused item


@dataclass(frozen=True)
class Catalogue:
    usable: dict[str, Item]
    refused: dict[str, str]  # item_code -> why it cannot be used
    rows: dict[str, dict]  # item_code -> the refused row, every value as text (for the quality log)


def read_catalogue(exchange: Engine) -> Catalogue:
    """Every row of the exchange's ``items`` table, each usable or refused."""
    with exchange.connect() as conn:
        rows = conn.execute(select(exchange_items)).mappings().all()
    usable, refused, raw = {}, {}, {}
    for row in rows:
        code = row["item_code"]
        try:
            usable[code] = item_of(row)
        except ValueError as exc:
            refused[code] = str(exc)
            raw[code] = store.raw_row(list(row.keys()), list(row.values()))
    return Catalogue(usable, refused, raw)


def item_of(row: Mapping) -> Item:
    """The Item of one ``items`` row; ValueError, saying what is wrong, if it cannot be used."""
    code = row["item_code"]
    if not isinstance(code, str) or len(code) > MAX_ID_CHARS:
        raise ValueError(f"item_code {_show(code)} is not a code of at most {MAX_ID_CHARS} characters")
    fee = row["fee_yuan"]
    if not isinstance(fee, Decimal) or not fee.is_finite() or not 0 <= fee <= MAX_FEE:
        raise ValueError(f"item {_show(code)}: fee_yuan {_show(fee)} is not an amount from 0 to {MAX_FEE:,} yuan")
    return Item(
        code,
        _days(code, "promised_days", row["promised_days"]),
        _days(code, "statutory_days", row["statutory_days"]),
        _unit(code, row["day_unit"]),
        fee,
        row["dept_id"],
    )


def _days(code: str, name: str, value: object) -> int:
    # SQLite keeps whatever was written: text, a fraction, a boolean
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"item {_show(code)}: {name} {_show(value)} is not a whole number of days")
    if not 0 <= value <= MAX_DAYS:
        raise ValueError(f"item {_show(code)}: {name} {value} is not from 0 to {MAX_DAYS} days (ten years)")
    return value


def _unit(code: str, value: object) -> str:
    if value not in ("working", "natural"):
        raise ValueError(f"item {_show(code)}: day_unit {_show(value)} is neither 'working' nor 'natural'")
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
