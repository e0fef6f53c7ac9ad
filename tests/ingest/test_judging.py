"""Judging on every core (ingest.judging): a worker that dies stops the ingest loudly."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from app.base.settings import Settings
from ingest.judging import JudgePool
from ingest.runner import build

from .exchange_builder import local


def test_a_worker_killed_while_judging_breaks_the_pool_instead_of_hanging(exchange, tmp_path, pg_url, monkeypatch):
    exchange.event("K1", "received", "2026-09-29 10:00", item_code="ITEM-W")
    ingest = build(Settings(var_dir=tmp_path, exchange_url=str(exchange.engine.url), db_url=pg_url))
    ingest.load_items()
    # The worker is killed the way the OOM killer would: mid-share, with nothing committed.
    monkeypatch.setattr(type(ingest), "judge", lambda self, conn, case_nos, now: os.kill(os.getpid(), signal.SIGKILL))
    pool = JudgePool(ingest.judge_share, 2, engines=(ingest.db, ingest.exchange))
    try:
        with pytest.raises(BrokenProcessPool):
            list(pool.judge([["K1"], ["K2"]], local("2026-10-13 00:00")))
    finally:
        pool.close()
