"""SMS settings (typed, typos refused), phone normal form and masking, and the migration."""

from __future__ import annotations

from datetime import time

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from app.base.settings import SMS_ENV_NAMES, SmsSettings, unknown_variables
from app.cli import cli
from app.sms.phones import is_mobile, mask_phone, mask_phones_in, normalize_phone


def test_defaults(sms_settings):
    settings = SmsSettings()
    assert (settings.gateway, settings.send_from, settings.send_until, settings.reply_days) == (
        "file",
        time(8),
        time(21),
        7,
    )
    assert settings.token is None


def test_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("SUPERVISE_SMS_SEND_FROM", "09:30")
    monkeypatch.setenv("SUPERVISE_SMS_GATEWAY", "http")
    monkeypatch.setenv("SUPERVISE_SMS_HTTP_URL", "https://sms.example.cn/v1/send")
    monkeypatch.setenv("SUPERVISE_SMS_TOKEN", "s3cret")
    settings = SmsSettings()
    assert settings.send_from == time(9, 30) and settings.gateway == "http"
    assert "s3cret" not in repr(settings)  # secrets never reach a log line


@pytest.mark.parametrize(
    "values,message",
    [
        ({"gateway": "http"}, "needs SUPERVISE_SMS_HTTP_URL"),
        ({"http_url": "ftp://x"}, r"not an http\(s\) URL"),
        ({"send_from": time(8), "send_until": time(8)}, "must differ"),
        ({"gateway": "carrier-pigeon"}, "gateway"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"gatewy": "file"}, "gatewy"),  # a typo is an error, not a silent default
    ],
)
def test_bad_settings_are_refused(sms_settings, values, message):
    with pytest.raises(ValidationError, match=message):
        SmsSettings(**values)


def test_the_typo_check_knows_the_sms_names():
    assert "SUPERVISE_SMS_GATEWAY" in SMS_ENV_NAMES and "SUPERVISE_SMS_TOKEN" in SMS_ENV_NAMES
    env = {"SUPERVISE_SMS_GATEWAY": "file", "SUPERVISE_SMS_SEND_FROM": "08:00", "SUPERVISE_SMS_GATEWAYY": "x"}
    assert unknown_variables(env) == ["SUPERVISE_SMS_GATEWAYY"]


def test_a_bad_setting_stops_the_command_with_one_line(tmp_path, monkeypatch):
    result = CliRunner().invoke(
        cli, ["sms", "outbox", "--json"], env={"SUPERVISE_VAR_DIR": str(tmp_path), "SUPERVISE_SMS_GATEWAY": "pigeon"}
    )
    assert result.exit_code == 2 and "SUPERVISE_SMS_GATEWAY" in result.output


@pytest.mark.parametrize(
    "raw,normal",
    [
        ("13812341234", "13812341234"),
        ("138 1234 1234", "13812341234"),
        ("138-1234-1234", "13812341234"),
        ("+86 138 1234 1234", "13812341234"),
        ("008613812341234", "13812341234"),
        ("8613812341234", "13812341234"),
        ("１３８１２３４１２３４", "13812341234"),  # full-width
        ("0771-5551234", "07715551234"),  # a landline: a number, not a mobile
        ("call me", None),
        ("", None),
        (None, None),
        (13812341234, None),
    ],
)
def test_normalize_phone(raw, normal):
    assert normalize_phone(raw) == normal


def test_only_mobiles_get_sms():
    assert is_mobile("13812341234") and not is_mobile("07715551234") and not is_mobile(None)


@pytest.mark.parametrize(
    "raw,masked",
    [
        ("13812341234", "138****1234"),
        ("+86 138-1234-1234", "138****1234"),
        ("07715551234", "077****1234"),
        ("5551234", "55***34"),
        ("12", "****"),
        ("", "****"),
        (None, None),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_numbers_inside_a_reply_are_masked_too():
    assert mask_phones_in("请打我电话13812341234或+8613900000000") == "请打我电话138****1234或139****0000"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["db", "pg_db"])
def test_migration_matches_the_tables_and_goes_down_and_up(request, backend):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.base.database import _alembic_config, current_revision, upgrade
    from app.base.tables import metadata

    engine = request.getfixturevalue(backend)

    def ours(diff) -> bool:
        text = repr(diff)
        return any(name in text for name in ("sms_outbox", "sms_inbox", "ratings"))

    with engine.connect() as conn:
        assert [d for d in compare_metadata(MigrationContext.configure(conn), metadata) if ours(d)] == []
    from alembic import command

    head = current_revision(engine)
    command.downgrade(_alembic_config(engine), "0003")
    upgrade(engine)
    assert current_revision(engine) == head
