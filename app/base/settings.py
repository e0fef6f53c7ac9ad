"""Typed configuration of `supervise`, read once from the environment.

One model with its sections: the main settings (SUPERVISE_*), the SMS section
(SUPERVISE_SMS_*, :class:`SmsSettings`) and the video section (:class:`VideoSettings`).
Every setting has a default that makes a single machine work with no server
installed: SQLite files under ``./var/`` and an in-process Redis stand-in.
A misspelt ``SUPERVISE_*`` variable is an error at start-up, not a silent default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PREFIX = "SUPERVISE_"


class ConfigurationError(click.ClickException):
    """A fault no wait can cure (a setting, a database that refuses us, a missing table):
    one line naming it, and exit 2."""

    exit_code = 2


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid", frozen=True)

    var_dir: Path = Field(Path("var"), description="Where embedded databases, evidence and the SMS file gateway live.")
    exchange_url: str = Field(
        "", description="SQLAlchemy URL of the exchange database (前置库). Default: SQLite in var_dir."
    )
    db_url: str = Field("", description="SQLAlchemy URL of the supervision database. Default: SQLite in var_dir.")
    redis_url: str | None = Field(None, description="Redis URL; unset means an in-process stand-in (fakeredis).")
    tz: str = Field("Asia/Shanghai", description="Local time zone for working days and due dates.")
    calendar_dir: Path | None = Field(None, description="Folder of center calendar override files (<center_id>.toml).")
    routes: Path | None = Field(None, description="The notification routing file (TOML); unset: the default routes.")
    camera_offline_seconds: float = Field(
        30.0, gt=0, description="No decodable frame for this long raises camera_offline."
    )
    thumbnail_interval: float = Field(5.0, gt=0, description="Seconds between thumbnails per camera.")
    thumbnail_ttl: int = Field(120, gt=0, description="Seconds a thumbnail lives in Redis.")
    camera_substream_vendor: str = Field(
        "",
        description="Opt cameras without a substream_url into their vendor's substream: 'hikvision' or 'dahua' "
        "for every camera, 'K1=hikvision,K2=dahua' for some, or both ('dahua,K1=hikvision'). Empty: none.",
    )

    @field_validator("camera_substream_vendor")
    @classmethod
    def _vendors_are_known(cls, value: str) -> str:
        substream_vendors(value)
        return value

    # 空岗 (window unattended, rules/presence.py): office time and its two limits.
    office_hours: str = Field("09:00-17:00", description="Office hours of the centers on working days (HH:MM-HH:MM).")
    lunch_break: str = Field("12:00-13:30", description="Lunch break within office hours (HH:MM-HH:MM; empty: none).")
    unattended_minutes: int = Field(15, gt=0, le=480, description="A seat empty this long in office time: 空岗.")
    unattended_long_minutes: int = Field(30, gt=0, le=480, description="...this long: 空岗超时 (red).")

    # Both databases: how long to wait for what, and how a process waits out an outage.
    db_connect_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for a PostgreSQL connection to open."
    )
    db_statement_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Longest a statement may run (PostgreSQL statement_timeout); a link that stays silent "
        "5 s longer than this is taken for hung and cut.",
    )
    db_lock_timeout: float = Field(
        10.0, gt=0, le=3600, description="Longest a statement waits for a lock (PostgreSQL lock_timeout)."
    )
    db_long_statement_timeout: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="The statement limit of work that legitimately runs long: migrations, KPI refresh and "
        "rebuild, the simulator's backfill COPY.",
    )
    db_network_timeout: float = Field(
        30.0,
        ge=3,
        le=600,
        description="A PostgreSQL link that gets no TCP answer this long is dead (keepalives, tcp_user_timeout).",
    )
    db_retry_max_seconds: float = Field(
        5.0, ge=0.5, le=300, description="Longest wait between two attempts while a database is down (full jitter)."
    )
    db_start_wait: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="At start, how long an unreachable database is waited for before the command gives up "
        "(exit 2); later outages are waited out however long they last.",
    )

    # The dashboard.
    secret_key: str = Field(
        "", description="Session-signing key; empty: one kept in the database, shared by all servers."
    )
    cookie_secure: bool = Field(False, description="Send the session cookie over HTTPS only (set behind TLS).")
    escalate_minutes: float = Field(30.0, gt=0, description="An alarm unacknowledged this long escalates visibly.")
    stale_minutes: float = Field(15.0, gt=0, description="Data older than this shows the stale-data banner.")
    sso_header: str | None = Field(None, description="Trusted reverse-proxy header naming the user (single sign-on).")
    trusted_proxies: str = Field("", description="Comma-separated proxy addresses whose SSO header is believed.")

    # Sessions and logins (app/sessions.py, app/logins.py).
    session_hours: float = Field(
        12.0, gt=0, le=24 * 31, description="A session unused this long ends; each request moves its end on."
    )
    login_user_failures: int = Field(
        5, ge=1, le=1000, description="Failed logins for one user name within the window that lock the name."
    )
    login_addr_failures: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Failed logins from one address within the window that lock the "
        "address (an office behind one NAT address shares it).",
    )
    login_window_minutes: float = Field(
        15.0,
        gt=0,
        le=24 * 60,
        description="The window failed logins are counted over; a lock lasts until enough failures age out of it.",
    )
    login_hash_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="Password checks one web process runs at once (argon2 takes "
        "64 MiB each: this bounds memory under a burst of logins).",
    )

    # Supervision orders, appeals and the monthly assessment (app/orders/, rules/orders.py, rules/assessment.py).
    order_prefix: str = Field(
        "桂政监督",
        min_length=1,
        max_length=20,
        description="The number prefix of supervision orders (督办单), as in 桂政监督〔2026〕第 0123 号.",
    )
    order_feedback_days: int = Field(
        3, ge=1, le=60, description="Working days a department has to answer an order, unless the officer sets others."
    )
    not_supervised_days: int = Field(
        0,
        ge=0,
        le=60,
        description="Working days a red alarm may stay without an order before not_supervised fires "
        "(5 in the reference systems); 0: the clock is off.",
    )
    appeal_days: int = Field(5, ge=1, le=60, description="Working days to decide a department's appeal (申诉).")
    assessment_rules: Path | None = Field(
        None, description="TOML file of the monthly assessment's deductions (绩效测评); unset: the built-in defaults."
    )

    # What a browser may do with our pages (app/headers.py), and who reads /metrics.
    kiosk_frame_ancestors: str = Field(
        "",
        description="Space-separated origins allowed to frame the kiosk page "
        "(/?kiosk), e.g. https://portal.example.gov.cn; empty: none. "
        "No other page may be framed.",
    )
    metrics_token: SecretStr | None = Field(None, description="Bearer token that opens /metrics from any address.")
    metrics_allow: str = Field(
        "127.0.0.1/32,::1/128", description="Comma-separated networks that read /metrics without the token."
    )

    @field_validator("db_url", "exchange_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # The value is never repeated in the message: it may hold a password.
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL (e.g. postgresql+psycopg://user@host:5432/name or sqlite:///path/to/file.db)"
            ) from None
        backend, driver = url.get_backend_name(), url.get_driver_name()
        if backend == "sqlite" and driver == "pysqlite" or backend == "postgresql" and driver == "psycopg":
            return value
        raise ValueError(f"{backend}+{driver} is not supported: use postgresql+psycopg://… or sqlite:///…")

    @field_validator("office_hours", "lunch_break")
    @classmethod
    def _span_of_day(cls, value: str) -> str:
        if value.strip():
            _span(value)
        return value

    @model_validator(mode="after")
    def _office_time(self) -> Settings:
        try:
            _ = self.office
        except ValueError as exc:
            raise ValueError(f"SUPERVISE_LUNCH_BREAK: {exc}") from None
        if self.unattended_long_minutes < self.unattended_minutes:
            raise ValueError("SUPERVISE_UNATTENDED_LONG_MINUTES must not be below SUPERVISE_UNATTENDED_MINUTES")
        return self

    @property
    def office(self):
        """The office hours (rules.presence.OfficeHours) of SUPERVISE_OFFICE_HOURS and SUPERVISE_LUNCH_BREAK."""
        from rules.presence import OfficeHours

        opens, closes = _span(self.office_hours)
        return OfficeHours(opens, closes, _span(self.lunch_break) if self.lunch_break.strip() else None)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("order_prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        if value != value.strip() or any(not c.isprintable() for c in value):
            raise ValueError("an order prefix is printable text without surrounding spaces")
        return value

    @field_validator("kiosk_frame_ancestors")
    @classmethod
    def _origins(cls, value: str) -> str:
        # Each word lands in a Content-Security-Policy header: only origins, never a ';' or a quote.
        for origin in value.split():
            if origin != "'self'" and not re.fullmatch(r"https?://[A-Za-z0-9.*-]+(:[0-9]{1,5})?", origin):
                raise ValueError(f"{origin!r} is not an origin like https://portal.example.gov.cn")
        return " ".join(value.split())

    @field_validator("metrics_allow", "trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for network in (n.strip() for n in value.split(",")):
            if network:
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as exc:
                    raise ValueError(f"{network!r} is not an address or network") from exc
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @cached_property
    def sms(self) -> SmsSettings:
        """The completion SMS and satisfaction survey (SUPERVISE_SMS_*), read when first asked for."""
        return SmsSettings()

    @cached_property
    def video(self) -> VideoSettings:
        """How camera workers behave: the three knobs shared with the main settings, the rest tuned there."""
        return VideoSettings.from_settings(self)

    @property
    def exchange_url_resolved(self) -> str:
        return self.exchange_url or f"sqlite:///{(self.var_dir / 'exchange.db').resolve()}"

    @property
    def db_url_resolved(self) -> str:
        return self.db_url or f"sqlite:///{(self.var_dir / 'supervise.db').resolve()}"


# The SMS section (SUPERVISE_SMS_*): its own prefix, so its names stay those the SMS code always read.
SMS_PREFIX = "SUPERVISE_SMS_"


class SmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=SMS_PREFIX, extra="forbid", frozen=True)

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


SMS_ENV_NAMES: frozenset[str] = frozenset(SMS_PREFIX + name.upper() for name in SmsSettings.model_fields)


def load_sms() -> SmsSettings:
    return SmsSettings()


# The video section: read from no variable of its own, but for the three knobs it shares with Settings.
class VideoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    open_timeout: float = Field(10.0, gt=0, description="Seconds to connect, authenticate and learn the stream.")
    read_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a read may wait for data: a hung camera is detected "
        "within about twice this (FFmpeg hands out what it buffered).",
    )
    offline_after: float = Field(
        30.0, gt=0, description="No decodable frame for this long is an outage (camera_offline)."
    )
    thumbnail_interval: float = Field(5.0, gt=0, description="Seconds between thumbnails of a camera.")
    thumbnail_ttl: int = Field(120, gt=0, description="Seconds a thumbnail lives in Redis.")
    thumbnail_width: int = Field(640, ge=64, description="Thumbnails wider than this are scaled down.")
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality of thumbnails, stills and evidence.")
    keyframe_ring: int = Field(6, ge=1, le=100, description="Recent keyframes kept in memory per camera, for evidence.")
    health_interval: float = Field(5.0, gt=0, description="Seconds between health reports of an unchanged camera.")
    stale_after: float = Field(30.0, gt=0, description="A health report older than this means its worker is gone.")
    retry_base: float = Field(1.0, gt=0, description="First retry window (s) after a camera went offline.")
    retry_cap: float = Field(15.0, gt=0, description="Longest retry window (s) for an offline camera.")
    error_retry_base: float = Field(
        30.0, gt=0, description="First retry window (s) after a configuration error (401, 404)."
    )
    error_retry_cap: float = Field(300.0, gt=0, description="Longest retry window (s) after configuration errors.")
    start_spread: float = Field(5.0, ge=0, description="First connections are spread at random over this many seconds.")
    live_queue: int = Field(250, ge=10, description="Fragments buffered per live viewer before a slow one is dropped.")
    substream_vendor: str = Field(
        "", description="Cameras opted into their vendor's substream (SUPERVISE_CAMERA_SUBSTREAM_VENDOR)."
    )
    transcode_cap: int = Field(
        2,
        ge=0,
        description="H.265 cameras transcoded to H.264 at once per web process, for browsers without HEVC; "
        "past it a viewer gets MJPEG stills with a note.",
    )
    transcode_width: int = Field(1280, ge=160, description="Transcoded live video wider than this is scaled down.")

    @field_validator("substream_vendor")
    @classmethod
    def _vendors_are_known(cls, value: str) -> str:
        substream_vendors(value)
        return value

    def substream_vendor_of(self, camera_id: str) -> str | None:
        """The vendor whose substream pattern `camera_id` is opted into, if any."""
        default, by_camera = substream_vendors(self.substream_vendor)
        return by_camera.get(camera_id, default)

    @classmethod
    def from_settings(cls, settings, **overrides) -> VideoSettings:
        """The config for `settings` (an :class:`Settings`), with `overrides` on top."""
        shared = {
            "offline_after": settings.camera_offline_seconds,
            "thumbnail_interval": settings.thumbnail_interval,
            "thumbnail_ttl": settings.thumbnail_ttl,
            "substream_vendor": settings.camera_substream_vendor,
        }
        return cls(**{**shared, **overrides})


SUBSTREAM_VENDORS = ("hikvision", "dahua")


def substream_vendors(text: str) -> tuple[str | None, dict[str, str]]:
    """(vendor of every camera, {camera_id: vendor}) of a ``dahua,K1=hikvision`` setting."""
    default, by_camera = None, {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        camera_id, sep, vendor = item.rpartition("=")
        vendor = vendor.strip().lower()
        if vendor not in SUBSTREAM_VENDORS:
            raise ValueError(f"unknown camera vendor {vendor!r}: one of {', '.join(SUBSTREAM_VENDORS)}")
        if sep:
            by_camera[camera_id.strip()] = vendor
        else:
            default = vendor
    return default, by_camera


def _span(text: str) -> tuple[time, time]:
    """'09:00-17:00' as two times; ValueError in words for anything else."""
    try:
        first, last = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a span of the day (write HH:MM-HH:MM)") from None
    if not first < last:
        raise ValueError(f"{text!r} ends before it begins")
    return first, last


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """SUPERVISE_* variables that match no setting (typos), so start-up can refuse them."""
    environ = os.environ if environ is None else environ
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    # SUPERVISE_CONTRACT_DIR only points the contract tests at another copy of shared/contract.
    allowed_elsewhere = {"SUPERVISE_CONTRACT_DIR"} | SMS_ENV_NAMES
    return sorted(k for k in environ if k.startswith(PREFIX) and k not in known | allowed_elsewhere)


def load() -> Settings:
    bad = unknown_variables()
    if bad:
        raise ValueError("unknown configuration variable(s): " + ", ".join(bad))
    try:
        return Settings()
    except ValidationError as exc:
        raise ValueError(one_line(exc)) from None


def one_line(error: ValidationError) -> str:
    """pydantic's errors as one line, each naming its variable, none repeating a value (URLs hold passwords)."""
    parts = []
    for found in error.errors(include_url=False, include_input=False):
        name = PREFIX + "_".join(str(part) for part in found["loc"]).upper()
        message = found["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message}" if found["loc"] else message)  # a check of several names them itself
    return "; ".join(parts)
