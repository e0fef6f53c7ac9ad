"""Many cameras in one process: their capture threads and one publisher.

:class:`CameraPool` runs a :class:`~video.camera_worker.CameraWorker` per
camera and a publisher thread (``video.publisher``) that, every half second,
asks each camera's :class:`~video.outage.OutageWatch` for outages (calling
``on_outage``), and writes changed health records, heartbeats and new
thumbnails to Redis in one pipeline. A Redis outage delays those writes; it
never stalls a capture thread, and outage notifications that failed are kept
and retried in order.

With an ``evidence_dir``, a third thread (``video.evidence``) answers evidence
requests for this pool's cameras from other processes (:mod:`video.evidence`).

:func:`start_workers` does it all for a process's settings: reads the enabled
cameras of its shard from the exchange database, reports outages to the
``supervise:camera-outages`` stream, re-reads the cameras every minute (a new
password restarts that camera) and stops when `stop` is set::

    pool = start_workers(settings, stop)            # the demo passes this pool to the web app as its live source

By hand::

    pool = CameraPool(redis, settings.video, on_outage=hook, evidence_dir=dir)
    pool.sync(cameras)              # start, stop and restart workers to match this list
    jpeg, before, meta = pool.capture_evidence("K123")
    feed = pool.live_feed("K123")   # for video.routes
    pool.stop()                     # returns the names of threads that did not end in time
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

import redis as redis_lib

from app.base import camera_keys as keys
from app.base.settings import VideoSettings
from video import evidence, faults, health, keyframes, redact, thumbnails
from video.camera_worker import CameraWorker, stream_options
from video.cameras import Camera
from video.evidence import Evidence, EvidenceReply, EvidenceRequest
from video.live import LiveFeed
from video.outage import OutageHook, instant

log = logging.getLogger(__name__)

TICK = 0.5
MAX_BACKLOG = 10_000


class CameraPool:
    def __init__(
        self,
        redis,
        config: VideoSettings,
        *,
        on_outage: OutageHook | None = None,
        evidence_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        member: str | None = None,
    ) -> None:
        self.redis, self.config = redis, config
        self.member = member  # this process among the video processes, named in each health record
        self.on_outage = on_outage
        self.evidence_dir = Path(evidence_dir) if evidence_dir else None
        self._clock = clock
        self._rng = rng or random.Random()
        self._workers: dict[str, CameraWorker] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._published: dict[str, tuple[int, float]] = {}  # camera_id -> (changes, at) last written
        self._backlog: deque[tuple[str, datetime, datetime | None]] = deque(maxlen=MAX_BACKLOG)
        self._redis_down_logged = 0.0
        self._threads: list[threading.Thread] = []

    # --- lifecycle ---

    def start(self) -> None:
        if self._threads:
            return
        self._threads.append(threading.Thread(target=self._publish_loop, name="video.publisher", daemon=True))
        if self.evidence_dir is not None:
            self._threads.append(threading.Thread(target=self._evidence_loop, name="video.evidence", daemon=True))
        for thread in self._threads:
            thread.start()

    def sync(self, cameras: list[Camera]) -> None:
        """Pull exactly `cameras`: new ones start, removed ones stop, changed ones (URL, window) restart."""
        self.start()
        wanted = {c.camera_id: c for c in cameras}
        with self._lock:
            for camera_id, worker in list(self._workers.items()):
                if wanted.get(camera_id) != worker.camera:
                    worker.stop()
                    del self._workers[camera_id]
            for camera_id, camera in wanted.items():
                if camera_id not in self._workers:
                    worker = CameraWorker(camera, self.config, clock=self._clock, rng=random.Random(self._rng.random()))
                    self._workers[camera_id] = worker
                    worker.start()

    def stop(self, timeout: float | None = None) -> list[str]:
        """Stop every thread; the names of those still running after `timeout` (default: read timeout + 2 s)."""
        self._stop.set()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        deadline = time.monotonic() + (self.config.read_timeout * 2 + 2 if timeout is None else timeout)
        for thread in [*workers, *self._threads]:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in [*workers, *self._threads] if t.is_alive()]

    # --- what other code asks ---

    @property
    def camera_ids(self) -> list[str]:
        return sorted(self._workers)

    def worker(self, camera_id: str) -> CameraWorker | None:
        return self._workers.get(camera_id)

    def health(self, camera_id: str) -> health.CameraHealth | None:
        worker = self._workers.get(camera_id)
        return None if worker is None else worker.health.health(self._clock())

    def live_feed(self, camera_id: str) -> LiveFeed | None:
        """The camera's live feed, if this pool pulls it (the video routes' live source)."""
        worker = self._workers.get(camera_id)
        return None if worker is None else worker.live

    def capture_evidence(self, camera_id: str) -> Evidence:
        """(still JPEG, JPEGs of the keyframes before it, metadata) of a camera this pool pulls.

        A camera watched on its substream gets its still from the main stream, at full
        resolution (opened for it), after the substream's keyframes of the seconds before;
        should the main stream fail, the substream's newest keyframe is the still and the
        metadata says why. Raises KeyError for a camera not pulled here, evidence.NoPicture
        when it has no picture.
        """
        return self._evidence(camera_id)[0]

    def keep_evidence(self, camera_id: str, requested_by: str, directory: Path | None = None) -> Path:
        """Capture evidence and write it under `directory` (default: evidence_dir); the sidecar's path."""
        directory = directory or self.evidence_dir
        if directory is None:
            raise ValueError("no evidence directory configured")
        found, ring, still = self._evidence(camera_id)
        found.metadata["requested_by"] = requested_by
        return evidence.write(found, directory, original=ring, still=still)

    def _evidence(self, camera_id: str) -> tuple[Evidence, list, object]:
        worker = self._workers[camera_id]
        ring = worker.ring.recent()
        captured_at = instant(self._clock())
        record = worker.health.health(self._clock()).model_dump(mode="json")
        quality = max(self.config.jpeg_quality, 90)
        if not worker.camera.substream_url:
            return evidence.capture(worker.camera, ring, captured_at, quality=quality, health=record), ring, None
        try:
            still = keyframes.first_keyframe(
                worker.camera.url,
                stream_options(worker.camera.url, self.config),
                (self.config.open_timeout, self.config.read_timeout),
                self._clock,
            )
        except Exception as exc:
            fault = faults.classify(
                exc, opening=False, open_timeout=self.config.open_timeout, read_timeout=self.config.read_timeout
            )
            log.warning(
                "camera %s: no still from the main stream (%s); the substream's instead", camera_id, fault.reason
            )
            found = evidence.capture(
                worker.camera, ring, captured_at, quality=quality, health=record, source="substream"
            )
            found.metadata["main_stream_fault"] = fault.reason
            return found, ring, None
        found = evidence.capture(worker.camera, ring, captured_at, quality=quality, health=record, still=still)
        return found, ring, still

    # --- the publisher ---

    def _publish_loop(self) -> None:
        while not self._stop.wait(TICK):
            self.publish_once()

    def publish_once(self) -> None:
        """One round: outage hooks, then health records and thumbnails in one Redis pipeline."""
        now = self._clock()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            for since, ended_at in worker.outage.check(now):
                self._backlog.append((worker.camera.camera_id, instant(since), instant(ended_at)))
        self._deliver_outages()
        pipe = self.redis.pipeline(transaction=False)
        written: dict[str, tuple[int, float]] = {}
        for worker in workers:
            camera_id = worker.camera.camera_id
            changes = worker.health.changes
            last_changes, last_at = self._published.get(camera_id, (-1, 0.0))
            if changes != last_changes or now - last_at >= self.config.health_interval:
                record = worker.health.health(now)
                health.write(pipe, record.model_copy(update={"member": self.member}) if self.member else record)
                written[camera_id] = (changes, now)
            thumbnail = worker.take_thumbnail()
            if thumbnail is not None:
                thumbnails.write(pipe, camera_id, thumbnail, self.config.thumbnail_ttl)
        try:
            pipe.execute()
        except redis_lib.RedisError as exc:
            self._redis_failed(exc, now)
            return
        self._published.update(written)

    def _deliver_outages(self) -> None:
        if self.on_outage is None:
            self._backlog.clear()
            return
        while self._backlog:
            camera_id, since, ended_at = self._backlog[0]
            try:
                self.on_outage(camera_id, since, ended_at)
            except redis_lib.RedisError as exc:  # keep it and retry next round; the Redis link logs the outage
                self._redis_failed(exc, self._clock())
                return
            except Exception as exc:
                log.warning("on_outage(%s) failed, will retry: %s", camera_id, redact.describe(exc))
                return
            self._backlog.popleft()

    def _redis_failed(self, exc: Exception, now: float) -> None:
        """Health, thumbnails and outages wait for Redis (they are written again when it is back).
        A client guarded by its link (app/base/messaging.py) logs the outage's start and end; one
        without logs at most once a minute."""
        if getattr(self.redis, "link", None) is not None:
            log.debug("Redis unreachable, will retry: %s", redact.describe(exc))
        elif now - self._redis_down_logged >= 60:
            self._redis_down_logged = now
            log.warning("cannot write camera health to Redis, will retry: %s", redact.describe(exc))

    # --- evidence requests from other processes ---

    def _evidence_loop(self) -> None:
        pubsub = None
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(keys.EVIDENCE_REQUESTS)
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self._answer(message["data"])
            except redis_lib.RedisError as exc:
                self._redis_failed(exc, self._clock())
                pubsub = None
                self._stop.wait(5.0)
        if pubsub is not None:
            pubsub.close()

    def _answer(self, raw) -> None:
        try:
            ask = EvidenceRequest.model_validate_json(raw)
        except ValueError:
            return
        if ask.camera_id not in self._workers:
            return  # another shard pulls it
        try:
            path = self.keep_evidence(ask.camera_id, ask.requested_by)
            answer = EvidenceReply(request_id=ask.request_id, camera_id=ask.camera_id, ok=True, metadata_path=str(path))
        except (evidence.NoPicture, KeyError, OSError) as exc:
            answer = EvidenceReply(
                request_id=ask.request_id, camera_id=ask.camera_id, ok=False, error=redact.redact(str(exc))
            )
        evidence.reply(self.redis, answer)


def start_workers(
    settings,
    stop: threading.Event,
    *,
    shard=None,
    member: str | None = None,
    config: VideoSettings | None = None,
    evidence_dir: Path | None = None,
    reload_seconds: float = 60.0,
    only: Collection[str] | None = None,
) -> CameraPool:
    """Camera workers for `settings` (an :class:`app.base.settings.Settings`), running until `stop` is set.

    Pulls the enabled cameras of `shard` (a static split), or else those this
    process owns among the live video processes (:mod:`video.membership`,
    as `member`); `only` narrows them to those ids and pulls them all, as the
    demo does for its wall. Uses the Redis of :func:`app.base.messaging.connect`;
    evidence goes to ``<var_dir>/evidence``. Raises sqlalchemy's errors if the
    cameras cannot be read at start; later failures to re-read them keep the
    current list, with a warning.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from app.base import outage
    from app.base.database import open_database
    from app.base.messaging import connect
    from video.cameras import load_enabled, open_cameras
    from video.membership import BEAT, Membership
    from video.outage import stream_hook
    from video.sharding import Shard

    config = config or settings.video
    redis = connect(settings)
    # Both databases are reached (or refused, naming the one at fault) before anything starts.
    engine = open_cameras(settings)
    db = open_database(settings)
    if shard is None and only is None:
        assignment = Membership(redis, member)
        assignment.beat()
    else:
        assignment = shard or Shard(0, 1)

    def load() -> list[Camera]:
        return [c for c in load_enabled(engine, config.substream_vendor_of) if only is None or c.camera_id in only]

    known = outage.retrying(load, [engine], stop, settings.db_retry_max_seconds)
    windows = {c.camera_id: c.window_id for c in known}
    pool = CameraPool(
        redis,
        config,
        on_outage=stream_hook(redis, windows.get, config.offline_after),
        evidence_dir=evidence_dir or settings.var_dir / "evidence",
        member=getattr(assignment, "name", None),
    )
    syncing = threading.Lock()

    def sync(cameras: list[Camera], why: str) -> None:
        with syncing:
            known[:] = cameras
            mine = [c for c in cameras if assignment.owns(c.camera_id)]
            before = set(pool.camera_ids)
            pool.sync(mine)
            if why or before != {c.camera_id for c in mine}:
                label = assignment if isinstance(assignment, Membership) else f"shard {assignment}"
                log.warning("video %s: pulling %d cameras of %d%s", label, len(mine), len(cameras), why)

    sync(list(known), " (start)")
    derived = [c.camera_id for c in known if c.substream_url and c.substream_url == _vendor_substream(c, config)]
    if derived:  # opted in by SUPERVISE_CAMERA_SUBSTREAM_VENDOR: said once, never a silent guess
        log.warning("watched on their vendor's substream pattern: %s", ", ".join(derived))

    def reload_until_stopped() -> None:
        while not stop.wait(reload_seconds):
            try:
                fresh = load()
            except SQLAlchemyError as exc:
                if not outage.transient(exc):  # an outage has its own lines (app.base.outage)
                    cause = getattr(exc, "orig", None) or exc
                    log.warning("cannot re-read cameras, keeping the current list: %s", redact.describe(cause))
                continue
            windows.update({c.camera_id: c.window_id for c in fresh})
            sync(fresh, "")
        if isinstance(assignment, Membership):
            assignment.leave()
        left = pool.stop()
        if left:
            log.warning("threads still running at exit: %s", ", ".join(left))

    def beat_until_stopped() -> None:
        while not stop.wait(BEAT):
            if assignment.beat():
                sync(list(known), f" (live members: {', '.join(assignment.members)})")

    threading.Thread(target=reload_until_stopped, name="video.reload", daemon=True).start()
    if isinstance(assignment, Membership):
        threading.Thread(target=beat_until_stopped, name="video.membership", daemon=True).start()
    _keep_alarm_evidence(settings, redis, pool, db, windows, stop)
    _watch_seats(settings, redis, pool, windows, stop)
    return pool


def _vendor_substream(camera: Camera, config: VideoSettings) -> str | None:
    vendor = config.substream_vendor_of(camera.camera_id)
    return (
        None
        if vendor is None
        else Camera(camera.camera_id, None, camera.url).with_vendor_substream(vendor).substream_url
    )


def _watch_seats(settings, redis, pool: CameraPool, windows: dict[str, str], stop: threading.Event) -> None:
    """Seat presence (空岗) from every camera's thumbnails, to the seat-presence stream (video.presence)."""
    from video import presence

    threading.Thread(
        target=presence.follow,
        name="video.seats",
        daemon=True,
        args=(pool, redis, windows.get, settings.var_dir, stop),
    ).start()


def _keep_alarm_evidence(settings, redis, pool: CameraPool, db, windows: dict[str, str], stop: threading.Event) -> None:
    """Evidence for fresh red alarms at the windows this pool watches (video.alarm_evidence)."""
    from video import alarm_evidence

    def camera_of_window(window_id: str) -> str | None:
        return next((camera for camera, window in windows.items() if window == window_id), None)

    threading.Thread(
        target=alarm_evidence.follow,
        name="video.alarm-evidence",
        daemon=True,
        args=(redis, pool, db, settings.var_dir, camera_of_window, stop),
    ).start()
