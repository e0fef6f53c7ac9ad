"""The browser's view of the cameras: a Flask blueprint.

``GET /video/<camera_id>/snapshot.jpg``  the latest thumbnail from Redis, with the
    keyframe's time in ``Last-Modified`` and ``X-Frame-Time`` (ISO 8601).
    404 with a grey "no picture" JPEG when there is none, so a wall tile stays a tile.
``GET /video/<camera_id>/live.mp4``      fragmented MP4: the camera's own H.264 remuxed; its
    H.265 too when the browser says it plays HEVC (``?hevc=1``), else an H.264 transcode
    (:mod:`video.transcode`), or ``?transcode=1`` to ask for one. ``X-Live-Codec`` names the
    camera's codec and ``X-Live-Mode`` says ``passthrough`` or ``transcode``; past the
    transcode cap the answer is 503 with ``X-Live-Fallback: transcode-cap`` (the page shows
    MJPEG with a note). The answer comes within a second: a camera not yet connected then is
    passed through as it comes.
``GET /video/<camera_id>/live.mjpeg``    keyframe stills as ``multipart/x-mixed-replace``.

Every route first calls ``authorize(camera_id)``: it may abort (401/403)
itself, and a False return is a 403. Camera URLs never reach the browser.

Live pictures come from a *live source*, anything with
``live_feed(camera_id) -> LiveFeed | None``. In the all-in-one demo that is the
process's :class:`~video.pool.CameraPool`. In a web process without camera
workers it is :class:`OnDemandLive`: it pulls a camera while someone watches
it (one pull per camera per web process, however many viewers) and lets go of
it a little after the last viewer left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from email.utils import format_datetime

import cv2
import numpy as np
import redis as redis_lib
from flask import Blueprint, Response, abort, request

from app.base.settings import VideoSettings
from video import thumbnails
from video.camera_worker import CameraWorker
from video.cameras import Camera, engine_for, load_enabled
from video.live import MJPEG_BOUNDARY, LiveFeed
from video.transcode import Transcodes

CODEC_WAIT = 0.8  # seconds a live answer waits for a camera's first connection to learn its codec

log = logging.getLogger(__name__)


def create_blueprint(
    *,
    redis,
    authorize: Callable[[str], bool] | None = None,
    settings=None,
    live=None,
    idle_timeout: float = 15.0,
    transcodes: Transcodes | None = None,
) -> Blueprint:
    """The video routes. `redis` must return bytes; `live` defaults to an :class:`OnDemandLive` on `settings`;
    `transcodes` (this process's H.264 transcodes) to the cap of `settings` (or VideoSettings')."""
    if transcodes is None:
        config = settings.video if settings is not None else VideoSettings()
        transcodes = Transcodes(config.transcode_cap, max_width=config.transcode_width, live_queue=config.live_queue)
    if live is None and settings is not None:
        engine = []  # made on first use: the exchange database may be down when the web app starts

        def cameras() -> list[Camera]:
            if not engine:
                engine.append(engine_for(settings.exchange_url_resolved))
            return load_enabled(engine[0], settings.video.substream_vendor_of)

        live = OnDemandLive(cameras, settings.video)
    blueprint = Blueprint("video", __name__)

    def allowed(camera_id: str) -> None:
        if authorize is not None and authorize(camera_id) is False:
            abort(403)

    @blueprint.route("/video/<camera_id>/snapshot.jpg")
    def snapshot(camera_id: str):
        allowed(camera_id)
        try:
            latest = thumbnails.latest(redis, camera_id)
        except redis_lib.RedisError:  # thumbnails live in Redis alone: none while it is down
            return Response(
                _no_picture(),
                status=503,
                mimetype="image/jpeg",
                headers={"Cache-Control": "no-store", "Retry-After": "5"},
            )
        if latest is None:
            return Response(_no_picture(), status=404, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})
        return Response(
            latest.jpeg,
            mimetype="image/jpeg",
            headers={
                "Cache-Control": "no-store",
                "Last-Modified": format_datetime(latest.taken_at, usegmt=True),
                "X-Frame-Time": latest.taken_at.isoformat(),
            },
        )

    @blueprint.route("/video/<camera_id>/live.mp4")
    def live_mp4(camera_id: str):
        allowed(camera_id)
        feed = live.live_feed(camera_id) if live is not None else None
        if feed is None:
            abort(404)
        codec = feed.wait_codec(CODEC_WAIT)
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Live-Codec": codec or ""}
        wants_h264 = request.args.get("transcode") == "1" or (codec == "hevc" and request.args.get("hevc") != "1")
        if wants_h264 and codec not in (None, "h264"):
            feed = transcodes.feed(feed)
            if feed is None:
                return Response(
                    "every transcode slot of this server is taken: stills only",
                    status=503,
                    mimetype="text/plain",
                    headers={**headers, "X-Live-Fallback": "transcode-cap", "Retry-After": "30"},
                )
            headers["X-Live-Mode"] = "transcode"
        else:
            headers["X-Live-Mode"] = "passthrough"
        return Response(
            _answer_at_once(feed.fmp4(idle_timeout=idle_timeout)),
            mimetype="video/mp4",
            direct_passthrough=True,
            headers=headers,
        )

    @blueprint.route("/video/<camera_id>/live.mjpeg")
    def live_mjpeg(camera_id: str):
        allowed(camera_id)
        feed = live.live_feed(camera_id) if live is not None else None
        if feed is None:
            abort(404)
        return Response(
            feed.mjpeg(idle_timeout=idle_timeout),
            direct_passthrough=True,
            mimetype=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    return blueprint


# An empty top-level box: a WSGI server sends the headers (and with them the codec) only with the first bytes
# of the body, and the init segment waits for the camera's next keyframe, seconds away.
FREE_BOX = b"\x00\x00\x00\x08free"


def _answer_at_once(chunks):
    yield FREE_BOX
    yield from chunks


class OnDemandLive:
    """Pulls a camera only while someone in this process watches it.

    `cameras` lists the cameras (re-read every `refresh` seconds); a pull ends
    `linger` seconds after its last viewer left. Its reaper thread is
    ``video.live-reaper``.
    """

    def __init__(
        self, cameras: Callable[[], list[Camera]], config: VideoSettings, *, refresh: float = 60.0, linger: float = 30.0
    ) -> None:
        self._list, self._refresh, self._linger = cameras, refresh, linger
        self.config = config.model_copy(update={"start_spread": 0.0})
        self._known: dict[str, Camera] = {}
        self._known_at = float("-inf")
        self._workers: dict[str, tuple[CameraWorker, list[float]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def live_feed(self, camera_id: str) -> LiveFeed | None:
        camera = self._camera(camera_id)
        if camera is None:
            return None
        with self._lock:
            running = self._workers.get(camera_id)
            if running is not None and running[0].is_alive() and running[0].camera == camera:
                running[1][0] = time.monotonic()
                return running[0].live
            if running is not None:
                running[0].stop()
            worker = CameraWorker(camera, self.config)
            self._workers[camera_id] = (worker, [time.monotonic()])
            worker.start()
            self._start_reaper()
            return worker.live

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        with self._lock:
            workers = [w for w, _ in self._workers.values()]
            self._workers.clear()
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.join(timeout)

    def _camera(self, camera_id: str) -> Camera | None:
        if time.monotonic() - self._known_at > self._refresh or camera_id not in self._known:
            try:
                self._known = {c.camera_id: c for c in self._list()}
                self._known_at = time.monotonic()
            except Exception as exc:
                log.warning("cannot list cameras for live view: %s", type(exc).__name__)
        return self._known.get(camera_id)

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_loop, name="video.live-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while not self._stop.wait(5.0):
            now = time.monotonic()
            with self._lock:
                for camera_id, (worker, last_wanted) in list(self._workers.items()):
                    if worker.live.viewers:
                        last_wanted[0] = now
                    elif now - last_wanted[0] > self._linger:
                        worker.stop()
                        del self._workers[camera_id]


_placeholder: bytes | None = None


def _no_picture() -> bytes:
    global _placeholder
    if _placeholder is None:
        image = np.full((180, 320, 3), (56, 50, 38), np.uint8)
        cv2.putText(image, "no picture", (92, 98), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (200, 200, 200), 2)
        _placeholder = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes()
    return _placeholder
