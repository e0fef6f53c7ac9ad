"""An outage is one line when it starts and one when it ends, whatever the calls between do."""

from __future__ import annotations

import logging
import sqlite3
import time

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from app.base import outage

FULL = sqlite3.OperationalError("database or disk is full")
GONE = sqlite3.OperationalError("unable to open database file")  # also a fault of writes on SQLite
REFUSED = psycopg.OperationalError("connection failed: Connection refused")  # no SQLSTATE: the link


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.WARNING, logger="supervise.outage")

    def said() -> list[str]:
        return ["down" if "is unavailable" in r.getMessage() else "back" for r in caplog.records]

    return said


def test_a_full_disk_that_lets_a_small_write_through_is_one_outage(monkeypatch, lines):
    monkeypatch.setattr(outage, "WRITES_SETTLE_SECONDS", 0.3)
    disk = outage.Outage("supervision")
    disk.failed(FULL)
    disk.answered(wrote=False)  # a read: every SELECT goes through a full disk
    disk.answered(wrote=True)  # a small write found room ...
    disk.failed(FULL)  # ... the next one did not: the same outage
    disk.answered(wrote=True)
    time.sleep(0.1)
    disk.failed(GONE)
    assert disk.down and lines() == ["down"]
    disk.answered(wrote=True)
    time.sleep(0.4)
    assert disk.down  # writes have settled, but no call has come to say so yet
    disk.answered(wrote=False)  # the next call of any kind ends it
    assert not disk.down and lines() == ["down", "back"]


def test_a_link_outage_ends_at_the_first_answer(lines):
    link = outage.Outage("supervision")
    link.failed(sa_exc.TimeoutError())  # every pooled connection busy: one statement's fault, no outage
    assert not link.down
    link.failed(REFUSED)
    link.failed(REFUSED)
    link.answered(wrote=False)
    assert not link.down and lines() == ["down", "back"]
