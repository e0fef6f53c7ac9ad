"""Running the dashboard: `supervise serve` under gunicorn, or in a thread for the demo.

Never Flask's development server. Each gunicorn worker builds its own app (its
own database pool and Redis client, nothing shared across fork); workers and
servers share state only through PostgreSQL and Redis, so any one of them may
restart without logging anybody out or losing an action.
"""

from __future__ import annotations

import logging
import threading

import click

log = logging.getLogger(__name__)


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        # Threads, because a focused live video tile holds a request open for minutes.
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 20,
        "keepalive": 5,
        "proc_name": "supervise-web",
        "accesslog": "-",
        "errorlog": "-",
        "preload_app": False,
    }


def run_gunicorn(options: dict) -> None:
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from app.base.database import open_database
            from app.base.settings import load
            from app.web import create_app

            # The master reached the database once already; a worker (re)started during an
            # outage waits for it rather than fail to boot, which would stop the master.
            settings = load()
            return create_app(settings, engine=open_database(settings, wait_forever=True))

    Application().run()


def run_in_thread(settings, port: int, clock=None, host: str = "127.0.0.1", threads: int = 16, video_live=None):
    """Serve the dashboard from a daemon thread of this process (for `make demo`), with waitress.

    `video_live` is the demo's camera pool (anything with ``live_feed(camera_id)``),
    so the live video comes from the cameras this process already decodes.
    Returns the waitress server; ``server.close()`` stops accepting, the thread ends with the process.
    """
    from waitress.server import create_server

    from app.web import create_app, system_clock

    wsgi = create_app(settings, clock or system_clock, video_live=video_live)
    server = create_server(
        wsgi, host=host, port=port, threads=threads, ident="supervise", channel_timeout=300, connection_limit=500
    )
    thread = threading.Thread(target=server.run, name=f"web.waitress:{port}", daemon=True)
    thread.start()
    return server


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="gunicorn worker processes.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option("--timeout", default=120, show_default=True, type=int, help="Seconds before a stuck worker restarts.")
def serve_command(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Run the web dashboard with gunicorn (several workers), on 127.0.0.1 behind the nginx front
    (`supervise front nginx`): slow clients are the front's to hold."""
    from app.base.database import open_database
    from app.base.settings import load

    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "serving on %s: gunicorn gives each connection a thread while it sends its request, so a few "
            "dozen slow clients stop it answering; put the nginx front before it (supervise front nginx) "
            "and listen on 127.0.0.1",
            host,
        )
    # Migrate once here, before workers start, instead of in every worker at once.
    open_database(load())
    run_gunicorn(gunicorn_options(host, port, workers, threads, timeout))
