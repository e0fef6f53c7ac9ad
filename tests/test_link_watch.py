"""app.base.link_watch on real PostgreSQL behind tests/faultproxy.py: a link that stops
answering is cut, also when the hang stops an answer half way."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.base import link_watch
from tests.faultproxy import FaultProxy

# 200 rows of 10 kB, then the server sleeps before the rest: the first megabyte or so
# comes in before the sleep, the rest after it.
HALF_THEN_SLEEP = (
    "SELECT CASE WHEN g = 200 THEN pg_sleep(4)::text ELSE repeat('x', 10000) END FROM generate_series(1, 400) g"
)
STATEMENT_TIMEOUT = 1.0  # the link is taken for hung after this + link_watch.MARGIN of silence


def _libpq(url: str, port: int) -> str:
    return make_url(url).set(drivername="postgresql", port=port).render_as_string(hide_password=False)


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.1)


def test_a_link_hung_half_way_through_an_answer_is_cut_before_the_hang_ends(pg_url):
    with FaultProxy("127.0.0.1", 5432) as proxy, psycopg.connect(_libpq(pg_url, 5432), autocommit=True) as look:
        link = psycopg.connect(_libpq(pg_url, proxy.port))
        link_watch.watch(link, "test", STATEMENT_TIMEOUT)
        ended: list[BaseException | str] = []

        def ask() -> None:
            try:
                link.execute(HALF_THEN_SLEEP).fetchall()
                ended.append("the whole answer")
            except psycopg.OperationalError as exc:
                ended.append(exc)

        asking = threading.Thread(target=ask, name="ask")
        asking.start()
        sleeping = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND pid = %s"
        _wait(lambda: look.execute(sleeping, (link.info.backend_pid,)).fetchone()[0] == 1, 30, "the half answer")
        time.sleep(0.5)  # the first rows through the proxy
        proxy.hang()
        try:
            asking.join(60)
            hung_until_healed = asking.is_alive()
        finally:
            proxy.heal()
            asking.join(60)
            link.close()
        assert not hung_until_healed, "the link waited for the hang to end"
        assert len(ended) == 1 and isinstance(ended[0], psycopg.OperationalError), ended
