"""Typed settings of the completion SMS and satisfaction survey (SUPERVISE_SMS_*).

Kept beside the SMS code until they are merged into :mod:`app.settings`;
`app.settings.unknown_variables` accepts the names listed in :data:`ENV_NAMES`.
The local time zone and the var folder are the main settings' (SUPERVISE_TZ,
SUPERVISE_VAR_DIR). Validation never does I/O.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "SUPERVISE_SMS_"


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", frozen=True)

    token: SecretStr | None = Field(
        None, description="Bearer token the SMS provider must send to POST /api/sms/inbound. Unset: inbound refused."
    )
    gateway: Literal["file", "http"] = Field(
        "file", description="How messages leave: 'file' appends JSON lines (demo), 'http' posts to the provider."
    )
    file_path: Path | None = Field(
        None, description="The file gateway's JSON-lines file. Default: <SUPERVISE_VAR_DIR>/sms-outbox.jsonl."
    )
    http_url: str = Field("", description="The provider's send endpoint (gateway=http).")
    http_token: SecretStr | None = Field(None, description="Bearer token sent to the provider (gateway=http).")
    http_timeout: float = Field(10.0, gt=0, le=120, description="Seconds before a provider call is abandoned.")
    send_from: time = Field(time(8, 0), description="Local time (SUPERVISE_TZ) from which messages may be sent.")
    send_until: time = Field(time(21, 0), description="Local time at which sending stops until send_from.")
    max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a message is marked failed.")
    retry_seconds: float = Field(30.0, gt=0, description="Wait after the first failure; doubles each attempt.")
    retry_max_seconds: float = Field(3600.0, gt=0, description="Longest wait between two attempts.")
    lease_seconds: float = Field(
        300.0,
        gt=0,
        description="A message claimed this long ago and never marked is taken up again "
        "(the sender died mid-send); the gateway's de-duplication prevents a second copy.",
    )
    poll_seconds: float = Field(5.0, gt=0, description="How often the sender looks for messages to send.")
    batch_size: int = Field(100, ge=1, le=10_000, description="Messages claimed per round.")
    max_age_hours: float = Field(
        72.0,
        gt=0,
        description="Cases completed longer ago than this get no SMS (no survey of old or backfilled cases).",
    )
    reply_days: int = Field(
        7, ge=1, le=90, description="A reply later than this after the completion SMS is kept but not scored."
    )
    signature: str = Field("政务服务", min_length=1, max_length=12, description="SMS signature (签名) shown as 【…】.")

    @model_validator(mode="after")
    def _consistent(self) -> SmsSettings:
        if self.send_from == self.send_until:
            raise ValueError("SUPERVISE_SMS_SEND_FROM and SUPERVISE_SMS_SEND_UNTIL must differ")
        if self.gateway == "http" and not self.http_url:
            raise ValueError("SUPERVISE_SMS_GATEWAY=http needs SUPERVISE_SMS_HTTP_URL")
        if self.http_url and not self.http_url.startswith(("http://", "https://")):
            raise ValueError(f"SUPERVISE_SMS_HTTP_URL {self.http_url!r} is not an http(s) URL")
        return self

    def outbox_file(self, var_dir: Path) -> Path:
        return self.file_path or var_dir / "sms-outbox.jsonl"


ENV_NAMES: frozenset[str] = frozenset(PREFIX + name.upper() for name in SmsSettings.model_fields)


def load_sms() -> SmsSettings:
    return SmsSettings()
