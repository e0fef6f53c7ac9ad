from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import cli

from .exchange_builder import Exchange


class Supervise:
    """Runs the real `supervise` commands in-process against one exchange and one supervision database."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True):
        result = self.runner.invoke(cli, list(args), env=self.env)
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"supervise {' '.join(args)} exited {result.exit_code}: {result.output}{result.exception!r}"
            )
        return result

    def ingest(self, now: str) -> str:
        return self("ingest", "--once", "--now", now).output

    def alarms(self, *extra: str) -> list[dict]:
        return [json.loads(line) for line in self("alarms", "--json", *extra).stdout.splitlines()]

    def case(self, case_no: str) -> dict:
        return json.loads(self("case", case_no, "--json").stdout)

    def quality(self) -> list[dict]:
        return [json.loads(line) for line in self("quality", "--json").stdout.splitlines()]


@pytest.fixture
def exchange(tmp_path) -> Exchange:
    return Exchange(f"sqlite:///{tmp_path / 'exchange.db'}")


@pytest.fixture
def supervise(tmp_path, exchange, monkeypatch) -> Supervise:
    for name in ("SUPERVISE_EXCHANGE_URL", "SUPERVISE_DB_URL", "SUPERVISE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return Supervise({"SUPERVISE_VAR_DIR": str(tmp_path)})
