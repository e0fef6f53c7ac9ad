#!/usr/bin/python3
"""Demo cameras: synthetic service windows (服务窗口) served over real RTSP.

Each scene is a window of a service center seen from above the applicants'
heads: the counter, a monitor, the window's label (``A12``) and a clock; a
staff member who now and then leaves the seat, for a few seconds or, about
once an hour, for several minutes to half an hour; applicants who come, wait
at the counter and go. Scenes are drawn with cairo and encoded once each with
x264 by GStreamer's RTSP server, at 640x360 and 10 fps.

Any path ``/camN`` is served (N = 1, 2, …): camera N shows scene
((N-1) mod scenes) + 1, and every camera of a scene shares that scene's one
encoder, so 6,000 simulated cameras cost no more than ``--scenes`` pictures.
A scene runs only while someone watches it.

Two halves in one file:

* the server, run with the *system* Python (it needs python3-gi, which a venv
  does not see)::

      /usr/bin/python3 video/demo_cameras.py --port 8554 --scenes 8 [--user U --password P] [--truth-dir D]

  Debian packages: gir1.2-gst-rtsp-server-1.0 python3-gi python3-gi-cairo
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly.
  It prints ``READY rtsp://127.0.0.1:PORT/`` once it listens.

* :func:`start_demo_cameras`, for the project's own code: starts that server
  as a child process and returns the URLs::

      demo = start_demo_cameras(8, port=8554)
      demo.urls          # ['rtsp://127.0.0.1:8554/cam1', …]
      demo.stop()

Ground truth: with ``--truth-dir`` (``truth_dir=``) each scene appends to
``<dir>/scene<N>.jsonl`` one line ``{"scene", "label", "at", "present"}`` when
its picture first shows and whenever the staff member leaves or sits down again;
:func:`read_truth` reads it back. The absences are a pure function of the
time, so :meth:`Scene.absences` also gives them for any span without a server.

This file imports only the standard library at module level, so both halves
can load it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

SYSTEM_PYTHON = "/usr/bin/python3"
WIDTH, HEIGHT, FPS = 640, 360, 10
ZONE = ZoneInfo(os.environ.get("SUPERVISE_TZ") or "Asia/Shanghai")  # the clock a camera burns into its picture
LABELS = ["A01", "A02", "A03", "B07", "B12", "C03", "C15", "D08", "E21", "F02", "G11", "H05"]


# --- the project's side ---


@dataclass
class DemoCameras:
    port: int
    scenes: int
    process: subprocess.Popen
    urls: list[str] = field(default_factory=list)

    def url(self, n: int) -> str:
        """URL of camera `n` (1, 2, …); cameras beyond the scene count share scenes."""
        return f"rtsp://127.0.0.1:{self.port}/cam{n}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> DemoCameras:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_demo_cameras(
    scenes: int = 8,
    *,
    port: int = 8554,
    user: str | None = None,
    password: str | None = None,
    var_dir: Path | None = None,
    truth_dir: Path | None = None,
    timeout: float = 20.0,
) -> DemoCameras:
    """Start the demo RTSP server with `scenes` scenes; raises RuntimeError if it does not come up.

    Its log goes to ``<var_dir>/demo-cameras.log`` (default: a temporary file), never
    to a pipe nobody reads, which would stall it once full.
    """
    args = [SYSTEM_PYTHON, str(Path(__file__).resolve()), "--port", str(port), "--scenes", str(scenes)]
    if user:
        args += ["--user", user, "--password", password or ""]
    if truth_dir is not None:
        Path(truth_dir).mkdir(parents=True, exist_ok=True)
        args += ["--truth-dir", str(truth_dir)]
    if var_dir is not None:
        Path(var_dir).mkdir(parents=True, exist_ok=True)
        log = open(Path(var_dir) / "demo-cameras.log", "a+")
    else:
        log = tempfile.TemporaryFile("w+")
    with log:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True
        )  # a Ctrl-C in the terminal goes to the parent only
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready and process.stdout.readline().startswith("READY"):
                demo = DemoCameras(port, scenes, process)
                demo.urls = [demo.url(n) for n in range(1, scenes + 1)]
                return demo
        if process.poll() is None:
            process.kill()
            process.wait(5)
        log.seek(0)
        error = log.read().strip().splitlines()[-1:]
    raise RuntimeError(f"demo cameras did not start on port {port}: {' '.join(error) or 'no READY line'}")


def scene_of(camera: int, scenes: int) -> int:
    """The scene camera `camera` (1, 2, …) shows when the server has `scenes` scenes."""
    return (camera - 1) % scenes + 1


def read_truth(truth_dir: Path, scene: int) -> list[tuple[datetime, bool]]:
    """(instant, staff present) of each change of scene `scene` the server wrote, oldest first."""
    path = Path(truth_dir) / f"scene{scene}.jsonl"
    if not path.exists():
        return []
    changes = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            changes.append((datetime.fromisoformat(record["at"]), bool(record["present"])))
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a stop
    return changes


# --- the scenes (pure drawing: cairo context and wall-clock time in, nothing out) ---


class Scene:
    """One window: its label, its staff member's absences and its applicants, all derived from the time."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.label = LABELS[(number - 1) % len(LABELS)]
        rng = random.Random(number)
        self.phase = rng.uniform(0, 600)
        self.away_every, self.away_for = rng.uniform(70, 140), rng.uniform(12, 30)
        self.visit_every = rng.uniform(35, 60)
        self.shirt = rng.choice([(0.16, 0.25, 0.45), (0.2, 0.3, 0.3), (0.35, 0.18, 0.2)])
        # About once an hour a long absence: some shorter than the 15-minute limit of 空岗, some longer.
        self.long_phase = rng.uniform(0, 3600)
        self.long_every, self.long_seed = rng.uniform(2400, 4200), rng.random()

    def long_for(self, k: int) -> float:
        """Length of the k-th long absence: 8 to 25 minutes, different each time."""
        return 480 + 1020 * ((self.long_seed + k * 0.6180339887) % 1.0)

    def staff_present(self, t: float) -> bool:
        short = (t + self.phase) % self.away_every > self.away_for
        k, offset = divmod(t + self.long_phase, self.long_every)
        return short and offset >= self.long_for(int(k))

    def absences(self, start: float, end: float) -> list[tuple[float, float]]:
        """(left, back) of every absence overlapping [start, end), epoch seconds, merged and clipped."""
        spans = []
        for phase, every, length in (
            (self.phase, self.away_every, lambda _k: self.away_for),
            (self.long_phase, self.long_every, self.long_for),
        ):
            k = math.floor((start + phase) / every) - 1
            while k * every - phase < end:
                left = k * every - phase
                spans.append((max(left, start), min(left + length(k), end)))
                k += 1
        merged: list[tuple[float, float]] = []
        for left, back in sorted(s for s in spans if s[0] < s[1]):
            if merged and left <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], back))
            else:
                merged.append((left, back))
        return merged

    def applicant(self, t: float) -> tuple[float, float] | None:
        """(x centre, colour seed) of the applicant at the counter, walking in or out; None if nobody."""
        cycle, index = math.modf((t + self.phase) / self.visit_every)
        seconds = cycle * self.visit_every
        walk, stay = 4.0, self.visit_every * 0.6
        if seconds < walk:
            x = -80 + (WIDTH / 2 + 80) * seconds / walk
        elif seconds < walk + stay:
            x = WIDTH / 2 + 6 * math.sin(seconds)
        elif seconds < 2 * walk + stay:
            x = WIDTH / 2 + (WIDTH / 2 + 80) * (seconds - walk - stay) / walk
        else:
            return None
        return x, index

    def draw(self, cr, t: float) -> None:
        self._room(cr)
        if self.staff_present(t):
            self._person(cr, WIDTH / 2 + 4 * math.sin(t / 3), 150, 1.0, self.shirt, facing=True)
        else:
            self._chair(cr)
        self._counter(cr)
        visitor = self.applicant(t)
        if visitor is not None:
            x, seed = visitor
            colour = random.Random(int(seed) * 7919 + self.number).choice(
                [(0.55, 0.2, 0.2), (0.2, 0.45, 0.25), (0.5, 0.45, 0.15), (0.3, 0.3, 0.35), (0.45, 0.3, 0.5)]
            )
            self._person(cr, x, 300, 1.6, colour, facing=False)  # seen from behind
        self._overlay(cr, t)

    def _room(self, cr) -> None:
        cr.set_source_rgb(0.86, 0.88, 0.9)
        cr.paint()
        cr.set_source_rgb(0.78, 0.81, 0.84)
        cr.rectangle(0, 0, WIDTH, 60)
        cr.fill()
        cr.set_source_rgb(0.1, 0.32, 0.62)  # the window's sign
        cr.rectangle(WIDTH / 2 - 70, 12, 140, 40)
        cr.fill()
        cr.set_source_rgb(1, 1, 1)
        cr.select_font_face("DejaVu Sans", 0, 1)
        cr.set_font_size(26)
        _centered(cr, self.label, WIDTH / 2, 42)

    def _chair(self, cr) -> None:
        cr.set_source_rgb(0.25, 0.25, 0.28)
        _rounded(cr, WIDTH / 2 - 38, 130, 76, 90, 10)
        cr.fill()

    def _person(self, cr, x: float, top: float, scale: float, shirt, *, facing: bool) -> None:
        cr.set_source_rgb(*shirt)
        _rounded(cr, x - 45 * scale, top + 32 * scale, 90 * scale, 90 * scale, 22 * scale)
        cr.fill()
        cr.set_source_rgb(*((0.93, 0.78, 0.64) if facing else (0.2, 0.14, 0.1)))
        cr.arc(x, top + 12 * scale, 24 * scale, 0, 2 * math.pi)
        cr.fill()
        if facing:
            cr.set_source_rgb(0.12, 0.1, 0.08)
            cr.arc(x, top + 4 * scale, 25 * scale, math.pi, 2 * math.pi)
            cr.fill()

    def _counter(self, cr) -> None:
        cr.set_source_rgb(0.55, 0.38, 0.22)
        cr.rectangle(0, 215, WIDTH, 40)
        cr.fill()
        cr.set_source_rgb(0.45, 0.3, 0.17)
        cr.rectangle(0, 255, WIDTH, HEIGHT - 255)
        cr.fill()
        cr.set_source_rgb(0.12, 0.12, 0.14)  # the monitor, its back to us
        cr.rectangle(WIDTH / 2 + 95, 165, 90, 55)
        cr.fill()
        cr.set_source_rgb(0.95, 0.95, 0.9)  # nameplate
        cr.rectangle(WIDTH / 2 - 150, 222, 90, 22)
        cr.fill()

    def _overlay(self, cr, t: float) -> None:
        stamp = datetime.fromtimestamp(t, ZONE).strftime("%Y-%m-%d %H:%M:%S")
        cr.set_source_rgba(0, 0, 0, 0.55)
        cr.rectangle(WIDTH - 218, HEIGHT - 30, 214, 24)
        cr.fill()
        cr.set_source_rgb(1, 1, 1)
        cr.select_font_face("DejaVu Sans Mono", 0, 0)
        cr.set_font_size(15)
        cr.move_to(WIDTH - 212, HEIGHT - 12)
        cr.show_text(stamp)
        cr.move_to(8, HEIGHT - 12)
        cr.show_text(f"CAM {self.label}")


def _centered(cr, text: str, x: float, baseline: float) -> None:
    extents = cr.text_extents(text)
    cr.move_to(x - extents.width / 2 - extents.x_bearing, baseline)
    cr.show_text(text)


def _rounded(cr, x: float, y: float, w: float, h: float, r: float) -> None:
    cr.new_sub_path()
    cr.arc(x + w - r, y + r, r, -math.pi / 2, 0)
    cr.arc(x + w - r, y + h - r, r, 0, math.pi / 2)
    cr.arc(x + r, y + h - r, r, math.pi / 2, math.pi)
    cr.arc(x + r, y + r, r, math.pi, 3 * math.pi / 2)
    cr.close_path()


# --- the server's side (system Python with GStreamer) ---


class TruthLog:
    """Appends a scene's changes of presence to ``<dir>/scene<N>.jsonl`` (see the module's docstring)."""

    def __init__(self, directory: str | None, scene: Scene) -> None:
        self.path = Path(directory) / f"scene{scene.number}.jsonl" if directory else None
        self.scene = scene
        self.last: bool | None = None

    def saw(self, t: float) -> None:
        present = self.scene.staff_present(t)
        if self.path is None or present == self.last:
            return
        self.last = present
        at = datetime.fromtimestamp(t, ZONE).isoformat()
        record = {"scene": self.scene.number, "label": self.scene.label, "at": at, "present": present}
        with open(self.path, "a") as out:
            out.write(json.dumps(record) + "\n")


def serve(port: int, scenes: int, user: str | None, password: str | None, truth_dir: str | None = None) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)

    class SceneFactory(GstRtspServer.RTSPMediaFactory):
        def __init__(self, scene: Scene) -> None:
            super().__init__()
            self.scene = scene
            self.truth = TruthLog(truth_dir, scene)
            self.set_shared(True)
            self.set_launch(
                f"( videotestsrc is-live=true pattern=black ! video/x-raw,format=BGRx,width={WIDTH},height={HEIGHT},"
                f"framerate={FPS}/1 ! cairooverlay name=draw ! videoconvert ! "
                f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={FPS * 2} bframes=0 bitrate=600 ! "
                "video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
            )

        def do_gen_key(self, url):
            return f"scene{self.scene.number}"  # every path of this scene shares one pipeline

        def do_media_configure(self, media):
            overlay = media.get_element().get_by_name("draw")
            overlay.connect("draw", lambda _el, cr, _ts, _dur: self._draw(cr, time.time()))

        def _draw(self, cr, t: float) -> None:
            self.scene.draw(cr, t)
            self.truth.saw(t)

    class AnyCamera(GstRtspServer.RTSPMountPoints):
        def do_make_path(self, url):
            path = url.abspath.rstrip("/")
            if path.startswith("/cam") and path[4:].isdigit() and int(path[4:]) >= 1:
                return f"/cam{(int(path[4:]) - 1) % scenes + 1}"
            return path

    server = GstRtspServer.RTSPServer()
    server.set_address("0.0.0.0" if os.environ.get("DEMO_CAMERAS_PUBLIC") == "1" else "127.0.0.1")
    server.set_service(str(port))
    mounts = AnyCamera()
    server.set_mount_points(mounts)
    for number in range(1, scenes + 1):
        factory = SceneFactory(Scene(number))
        if user:
            permissions = GstRtspServer.RTSPPermissions()
            permissions.add_role("viewer")
            permissions.add_permission_for_role("viewer", "media.factory.access", True)
            permissions.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(permissions)
        mounts.add_factory(f"/cam{number}", factory)
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password or ""), token)
        server.set_auth(auth)
    if server.attach(None) == 0:
        print(f"cannot listen on port {port}", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{port}/", flush=True)
    loop.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--scenes", type=int, default=8, help="distinct pictures; /camN for N beyond share them")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--truth-dir", help="write each scene's comings and goings here (scene<N>.jsonl)")
    args = parser.parse_args()
    serve(args.port, max(1, args.scenes), args.user, args.password, args.truth_dir)


if __name__ == "__main__":
    main()
