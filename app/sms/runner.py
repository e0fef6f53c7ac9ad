"""The SMS sender process: settings in, a running :class:`~app.sms.sender.Sender` out.

`start` runs it in a named daemon thread, for ``supervise demo`` or any process
that hosts it beside other work; ``supervise sms send`` runs it in the foreground.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from app.base.settings import Settings, SmsSettings, load_sms


def build(settings: Settings, sms: SmsSettings | None = None, engine=None):
    """A Sender on the configured database and gateway, naming places from the exchange database."""
    from app.base.database import open_database
    from app.sms.gateway import make_gateway
    from app.sms.sender import Sender

    sms = sms or load_sms()
    return Sender(
        engine or open_database(settings),
        make_gateway(sms, settings.var_dir),
        sms,
        settings.zone,
        place_names(settings),
    )


def place_names(settings: Settings):
    """Center and window names from the exchange database, if there is one (an absent
    SQLite file is not created just to find no names)."""
    from app.base.database import Limits
    from app.base.exchange import exchange_engine
    from app.sms.places import ExchangeNames

    url = make_url(settings.exchange_url_resolved)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return lambda center_id, window_id: (None, None)
    return ExchangeNames(exchange_engine(settings.exchange_url_resolved, Limits.of(settings)))


def start(
    settings: Settings,
    clock: Callable[[], datetime],
    stop: threading.Event,
    sms: SmsSettings | None = None,
    engine=None,
) -> threading.Thread:
    """Run the sender in a daemon thread named ``sms.sender`` until `stop` is set."""
    sender = build(settings, sms, engine)
    thread = threading.Thread(target=sender.run, args=(clock, stop), name="sms.sender", daemon=True)
    thread.start()
    return thread
