"""The nginx front: what stands between browsers and ``supervise serve``.

gunicorn's threaded workers give a thread to each connection while it sends its
request, so a few dozen clients that trickle their headers (slowloris) take
every thread and nothing else is answered, ``/healthz`` included. nginx reads
each request whole, with a deadline, before it reaches gunicorn
(``proxy_request_buffering``), and holds thousands of slow connections at no
cost. So in production gunicorn listens on 127.0.0.1 only and Debian's nginx
listens to the world with the site this module writes::

    supervise front nginx --listen 80 --upstream 127.0.0.1:8050 > /etc/nginx/sites-available/supervise
    ln -s ../sites-available/supervise /etc/nginx/sites-enabled/ && nginx -t && nginx -s reload

with ``SUPERVISE_TRUSTED_PROXIES=127.0.0.1`` for the dashboard, so that it
believes the client address nginx passes on (login throttle, audit trail,
``/metrics``). ``tests/web/test_front.py`` runs this very site with Debian's
nginx in front of ``supervise serve``.

Live video (``/video/``) is the exception to buffering: its answers flow as
they come and may last an hour.
"""

from __future__ import annotations

import re

import click

# A client has this long to send its request line and headers, and its body; then nginx answers 408.
HEADER_SECONDS = 10
BODY_SECONDS = 10


def nginx_site(
    listen: str, upstream: str, server_name: str = "_", tls_cert: str | None = None, tls_key: str | None = None
) -> str:
    """An nginx site (the inside of ``http {}``) proxying to `upstream`, which is host:port."""
    tls = (
        f"""
    ssl_certificate     {tls_cert};
    ssl_certificate_key {tls_key};
    ssl_protocols       TLSv1.2 TLSv1.3;"""
        if tls_cert
        else ""
    )
    return f"""# supervise: Debian's nginx in front of `supervise serve` (written by `supervise front nginx`).
upstream supervise_web {{
    server {upstream};
    keepalive 32;
    keepalive_timeout 4s;  # below gunicorn's 5 s, so nginx never reuses a connection gunicorn is closing
}}

server {{
    listen {listen}{" ssl" if tls_cert else ""};
    server_name {server_name};{tls}

    # Slow clients are nginx's to hold: a request reaches gunicorn only once it has arrived whole,
    # and a client that takes longer than this to send it is cut off.
    client_header_timeout {HEADER_SECONDS}s;
    client_body_timeout {BODY_SECONDS}s;
    send_timeout 60s;
    keepalive_timeout 30s;
    client_max_body_size 1m;
    large_client_header_buffers 4 16k;
    server_tokens off;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # The port too: the dashboard compares a POST's Origin with it.
    proxy_set_header Host $http_host;
    # Replaced, never appended to: what a client writes in its own X-Forwarded-For is not believed.
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_request_buffering on;
    proxy_buffering on;
    proxy_connect_timeout 5s;
    proxy_read_timeout 130s;  # gunicorn restarts a worker stuck for 120 s

    # Live video: answered as it comes, for as long as someone watches.
    location /video/ {{
        proxy_pass http://supervise_web;
        proxy_buffering off;
        proxy_read_timeout 1h;
    }}

    location / {{
        proxy_pass http://supervise_web;
    }}
}}
"""


def _address(value: str) -> str:
    if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)?:?[0-9]{1,5}", value):
        raise click.BadParameter(f"{value!r} is not a port or host:port")
    return value


@click.group("front")
def front_command() -> None:
    """The web server in front of `supervise serve` (slow clients, TLS, live video)."""


@front_command.command("nginx")
@click.option(
    "--listen",
    default="80",
    show_default=True,
    callback=lambda _c, _p, v: _address(v),
    help="Where nginx listens: a port or host:port.",
)
@click.option(
    "--upstream",
    default="127.0.0.1:8050",
    show_default=True,
    callback=lambda _c, _p, v: _address(v),
    help="Where `supervise serve` listens (host:port).",
)
@click.option("--server-name", default="_", show_default=True, help="nginx server_name (the site's host name).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Certificate chain (PEM): serve HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="Its private key (PEM).")
def front_nginx(listen: str, upstream: str, server_name: str, tls_cert: str | None, tls_key: str | None) -> None:
    """Print the nginx site for Debian's nginx (/etc/nginx/sites-available/supervise)."""
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if not re.fullmatch(r"[A-Za-z0-9._*-]+", server_name):
        raise click.BadParameter(f"{server_name!r} is not a host name", param_hint="--server-name")
    click.echo(nginx_site(listen, upstream, server_name, tls_cert, tls_key), nl=False)
