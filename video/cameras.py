"""The cameras to watch, read from the exchange database's ``cameras`` table.

A :class:`Camera` holds its URL, which holds a password: creating one
registers that password for redaction (:mod:`video.redact`), and its ``repr``
shows the URL redacted, so a camera can be logged or put in an exception
without a second thought. Credentials typed raw (``@ : / % #`` in a password)
are percent-encoded on the way in (:mod:`video.stream_urls`).

Which stream does what (the contract's ``substream_url``, optional):
:attr:`Camera.monitor_url` (health, thumbnails, the wall, the live view) is
the substream when there is one, the main stream otherwise; evidence stills
are taken from the main stream, ``url``, at full resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import Engine, text

from video import redact, stream_urls

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class Camera:
    camera_id: str
    window_id: str | None
    url: str  # SECRET: never shown, logged or sent to a browser
    label: str | None = None  # the window's label, e.g. 'A12'
    substream_url: str | None = None  # SECRET too; the low-resolution (usually H.264) stream

    def __post_init__(self) -> None:
        for name in ("url", "substream_url"):
            given = getattr(self, name)
            if given:
                redact.register_url(given)  # as typed, and as FFmpeg will repeat it
                object.__setattr__(self, name, stream_urls.with_encoded_credentials(given))
                redact.register_url(getattr(self, name))
            else:
                object.__setattr__(self, name, None if name == "substream_url" else given)

    @property
    def monitor_url(self) -> str:
        """What health, thumbnails, the wall and the live view pull: the substream if there is one."""
        return self.substream_url or self.url

    def with_vendor_substream(self, vendor: str | None) -> Camera:
        """This camera with the substream its vendor's URL pattern names, when it has none of its own."""
        if vendor is None or self.substream_url:
            return self
        derived = stream_urls.vendor_substream(self.url, vendor)
        return self if derived is None else replace(self, substream_url=derived)

    def __repr__(self) -> str:
        sub = f", substream={redact.safe_url(self.substream_url)!r}" if self.substream_url else ""
        return f"Camera({self.camera_id!r}, window={self.window_id!r}, url={redact.safe_url(self.url)!r}{sub})"


def load_enabled(engine: Engine, vendors=None) -> list[Camera]:
    """Every enabled camera, by camera_id. A row with an unreadable `enabled` flag is skipped, with a warning.

    `vendors` (camera_id -> vendor, e.g. VideoSettings.substream_vendor_of) opts cameras without a
    substream_url into the substream their vendor's URL pattern names."""
    found = _load_enabled(engine)
    if vendors is None:
        return found
    return [camera.with_vendor_substream(vendors(camera.camera_id)) for camera in found]


def _load_enabled(engine: Engine) -> list[Camera]:
    try:
        from app.base import exchange
    except ImportError:
        exchange = None
    if exchange is None or not hasattr(exchange, "cameras"):
        with engine.connect() as conn:
            rows = conn.execute(text("select url, camera_id, window_id from cameras where enabled")).all()
        return sorted((Camera(r.camera_id, r.window_id, r.url) for r in rows if r.url), key=lambda c: c.camera_id)
    return _load_with_tables(engine, exchange)


def _load_with_tables(engine: Engine, exchange) -> list[Camera]:
    from sqlalchemy import select

    cameras, windows = exchange.cameras, exchange.windows
    query = select(
        cameras.c.camera_id,
        cameras.c.window_id,
        cameras.c.url,
        cameras.c.substream_url,
        cameras.c.enabled,
        windows.c.label,
    ).select_from(cameras.outerjoin(windows, cameras.c.window_id == windows.c.window_id))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for row in rows:
        if row.enabled is not True:
            if row.enabled is not False:
                log.warning("camera %s: enabled flag %r is not a boolean; not watched", row.camera_id, str(row.enabled))
            continue
        if not row.url:
            log.warning("camera %s has no URL; not watched", row.camera_id)
            continue
        found.append(Camera(row.camera_id, row.window_id, row.url, row.label, row.substream_url))
    return sorted(found, key=lambda c: c.camera_id)


def load_one(engine: Engine, camera_id: str, vendors=None) -> Camera | None:
    """Camera `camera_id`, enabled or not (for probing it), or None if the table has no such row."""
    from sqlalchemy import select

    from app.base import exchange

    cameras, windows = exchange.cameras, exchange.windows
    query = (
        select(cameras.c.camera_id, cameras.c.window_id, cameras.c.url, cameras.c.substream_url, windows.c.label)
        .select_from(cameras.outerjoin(windows, cameras.c.window_id == windows.c.window_id))
        .where(cameras.c.camera_id == camera_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not row.url:
        return None
    camera = Camera(row.camera_id, row.window_id, row.url, row.label, row.substream_url)
    return camera if vendors is None else camera.with_vendor_substream(vendors(camera.camera_id))


def open_cameras(settings) -> Engine:
    """The exchange database holding the cameras, once it answers and holds the contract's
    cameras and windows tables; a ConfigurationError naming it otherwise."""
    from app.base import exchange

    return exchange.open_exchange(settings, (exchange.cameras, exchange.windows))


def engine_for(url: str) -> Engine:
    """An engine on the exchange database (the ingest's lenient one when available)."""
    try:
        from app.base.exchange import exchange_engine
    except ImportError:
        from sqlalchemy import create_engine as exchange_engine
    return exchange_engine(url)
