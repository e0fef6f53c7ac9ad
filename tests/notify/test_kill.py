"""`supervise notify` killed with SIGKILL mid-delivery and started again: every message
reaches its person once, none lost, none twice (real PostgreSQL, Redis and processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.base.database import make_engine, upgrade
from app.base.messaging import connect_url
from app.base.tables import notifications
from app.notify import contacts

from .test_notifier import change, fire

ROUTES = """
[[receivers]]
name = "sms"
type = "sms"
to = ["department"]

[route]
receiver = "sms"
group_by = ["department"]
group_wait = "0s"
"""
GROUPS = 300


def start(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "notify"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_kill_9_loses_nothing_and_repeats_nothing(pg_url, redis_url, tmp_path):
    engine = make_engine(pg_url)
    upgrade(engine)
    redis = connect_url(redis_url)
    now = datetime.now(UTC)
    for d in range(GROUPS):
        contacts.add(
            engine,
            name=f"科长{d}",
            role="窗口负责人",
            center_id="C0301",
            dept_id=f"D{d:03d}",
            mobile=f"139{d:08d}",
            by="test",
            now=now,
        )
    (tmp_path / "routes.toml").write_text(ROUTES, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")},
        "SUPERVISE_DB_URL": pg_url,
        "SUPERVISE_REDIS_URL": redis_url,
        "SUPERVISE_VAR_DIR": str(tmp_path),
        "SUPERVISE_ROUTES": str(tmp_path / "routes.toml"),
    }
    outbox_file = tmp_path / "sms-outbox.jsonl"

    first = start(env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # following: its position is stored
        with engine.connect() as conn:
            if conn.exec_driver_sql("SELECT count(*) FROM notify_position").scalar():
                break
        time.sleep(0.2)
    changes = []
    for d in range(GROUPS):
        c = change(d + 1, now - timedelta(seconds=1))
        changes.append(c.model_copy(update={"dept_id": f"D{d:03d}"}))
    fire(engine, redis, changes)
    while time.monotonic() < deadline and not (outbox_file.exists() and outbox_file.read_bytes().count(b"\n") >= 5):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # mid-delivery: some sent, some claimed, some queued
    first.wait()
    sent_before = outbox_file.read_bytes().count(b"\n")

    second = start(env)
    try:
        deadline = time.monotonic() + 180  # a claim left by the killed one is taken again after its lease
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.execute(select(func.count()).where(notifications.c.state == "sent")).scalar()
            if done == GROUPS:
                break
            time.sleep(0.5)
    finally:
        second.terminate()
        second.wait(timeout=30)
    lines = [json.loads(line) for line in outbox_file.read_text().splitlines()]
    phones = [line["phone"] for line in lines]
    assert 0 < sent_before < GROUPS or sent_before == GROUPS  # killed mid-way on a fast machine, after on a slow one
    assert sorted(phones) == sorted(f"139{d:08d}" for d in range(GROUPS))  # everyone once
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications)).scalar() == GROUPS
    redis.close()
    engine.dispose()
