"""`supervise serve` and Debian's nginx as real processes, and the clients that test them:
slow ones that trickle their headers, and bursts of logins. Used by tests/web/test_front.py
and bench/front.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

SUPERVISE = [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {seconds} s")


@contextmanager
def supervise_serve(env: dict, workers: int = 2, threads: int = 8, cwd: str | None = None):
    """`supervise serve` (gunicorn) on a free port; yields (url, the gunicorn master's Popen)."""
    port = free_port()
    process = subprocess.Popen(
        [*SUPERVISE, "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every worker up and answering
            try:
                if requests.get(url + "/healthz", timeout=5).status_code in (200, 503):
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield url, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def nginx_path() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


@contextmanager
def nginx_front(site: str, folder: Path, port: int):
    """Debian's nginx with `site` (written by `supervise front nginx`) in a minimal nginx.conf of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)  # run as root, nginx's workers are 'nobody' and write their buffers here
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
""")
    process = subprocess.Popen(
        [nginx_path(), "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, 15)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


class SlowClients:
    """`count` connections that send a request line and then one header byte a second (slowloris)."""

    def __init__(self, port: int, count: int):
        self.port, self.count, self.stop = port, count, threading.Event()
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._trickle, name="test.slowloris", daemon=True)

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            self.sockets.append(sock)
        self.thread.start()
        return self

    def _trickle(self) -> None:
        while not self.stop.wait(1.0):
            for sock in self.sockets:
                try:
                    sock.send(b"X")
                except OSError:
                    pass  # cut off by the server: that is its right

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def timed_get(url: str, timeout: float) -> tuple[int | None, float]:
    """(status or None when it did not answer within `timeout`, seconds taken)."""
    started = time.monotonic()
    try:
        status = requests.get(url, timeout=timeout).status_code
    except requests.RequestException:
        status = None
    return status, time.monotonic() - started


def log_in(base: str, name: str, password: str) -> tuple[requests.Session, int]:
    """Through the form, as a browser: (the session, the answer's status: 302 when logged in)."""
    http = requests.Session()
    token = form_token(http.get(base + "/login", timeout=30).text)
    answer = http.post(
        base + "/login",
        data={"name": name, "password": password, "next": "/", "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    return http, answer.status_code


def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else ""  # a server from before the token (bench/front.py --before)


def workers_rss(master_pid: int) -> int:
    """Resident memory of gunicorn's workers together, in bytes."""
    import psutil

    try:
        return sum(child.memory_info().rss for child in psutil.Process(master_pid).children(recursive=True))
    except psutil.Error:
        return 0


def peak_rss_during(master_pid: int, work) -> tuple[int, int]:
    """(workers' memory before, their peak while `work()` runs), sampled every 10 ms."""
    before, peak, done = workers_rss(master_pid), 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, workers_rss(master_pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return before, peak


def parallel_logins(base: str, names: list[str], password: str) -> list[int]:
    """Every name tries to log in at the same instant; returns the statuses."""
    statuses: list[int] = []
    barrier = threading.Barrier(len(names))

    def one(name: str):
        http = requests.Session()
        token = form_token(http.get(base + "/login", timeout=60).text)
        barrier.wait()
        statuses.append(
            http.post(
                base + "/login",
                data={"name": name, "password": password, "next": "/", "csrf_token": token},
                allow_redirects=False,
                timeout=120,
            ).status_code
        )

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return statuses
