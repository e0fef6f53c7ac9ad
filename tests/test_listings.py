"""No silent truncation: every listing command takes --limit and says on stderr when
it stopped early; stdout keeps nothing but JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from app.base.database import open_database
from app.base.settings import Settings
from app.base.tables import alarms, quality_log, ratings, sms_inbox, sms_outbox
from app.cli import cli

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
ROWS = 5


@pytest.fixture
def filled(tmp_path):
    engine = open_database(Settings(var_dir=tmp_path))
    with engine.begin() as conn:
        for i in range(ROWS):
            at = NOW - timedelta(minutes=i)
            conn.execute(
                insert(alarms).values(
                    kind="promise_overdue",
                    level="alarm",
                    case_no=f"C{i}",
                    subject="",
                    fired_at=at,
                    state="open",
                    updated_at=at,
                )
            )
            conn.execute(
                insert(quality_log).values(source="case_events", event_id=i, reason="bad", row={}, logged_at=at)
            )
            conn.execute(
                insert(sms_outbox).values(
                    purpose="completion",
                    case_no=f"C{i}",
                    phone="13800000000",
                    text="t",
                    state="sent",
                    attempts=1,
                    not_before=at,
                    created_at=at,
                    updated_at=at,
                    sent_at=at,
                )
            )
            conn.execute(
                insert(sms_inbox).values(
                    message_id=f"m{i}", phone="13800000000", text="100", received_at=at, stored_at=at, outcome="rated"
                )
            )
            conn.execute(
                insert(ratings).values(source="sms", source_id=f"m{i}", case_no=f"C{i}", score=100, rated_at=at)
            )
    engine.dispose()
    return {"SUPERVISE_VAR_DIR": str(tmp_path)}


LISTINGS = [
    ["alarms", "--json"],
    ["quality", "--json"],
    ["sms", "outbox", "--json"],
    ["sms", "inbox", "--json"],
    ["rating", "list", "--json"],
]


@pytest.mark.parametrize("command", LISTINGS, ids=" ".join)
@pytest.mark.parametrize(
    "limit,printed,notice",
    [
        (None, ROWS, False),  # the default (10,000) is far above
        ("2", 2, True),  # stopped early: said on stderr
        (str(ROWS), ROWS, False),  # exactly all: nothing was left out, so nothing is said
        ("0", ROWS, False),  # 0: all
    ],
)
def test_listing_limit(filled, command, limit, printed, notice):
    args = command + (["--limit", limit] if limit is not None else [])
    result = CliRunner().invoke(cli, args, env=filled)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == printed and all(isinstance(json.loads(line), dict) for line in lines)
    assert ("stopped after 2" in result.stderr) is notice


def test_a_negative_limit_is_refused(filled):
    result = CliRunner().invoke(cli, ["alarms", "--json", "--limit", "-1"], env=filled)
    assert result.exit_code == 2 and "--limit" in result.stderr
