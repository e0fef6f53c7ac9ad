"""One camera, pulled by one thread (``video.capture:<camera_id>``).

The thread pulls the camera's monitor stream (its substream when it has one,
:attr:`~video.cameras.Camera.monitor_url`). It connects with PyAV over RTSP/TCP, demuxes every packet and decodes
only a keyframe now and then (:mod:`video.keyframes`). It never touches Redis
or the network beyond the camera: the pool's publisher reads what it learned
(:class:`~video.health.HealthTracker`, :class:`~video.outage.OutageWatch`, the
pending thumbnail), so a slow Redis cannot stall a camera.

Every call that waits on the camera has a timeout. PyAV 13+ takes
``av.open(..., timeout=(open, read))``: the open timeout bounds connecting,
DESCRIBE/SETUP/PLAY and probing; the read timeout restarts with each
``av_read_frame``, so a camera that keeps the connection but sends nothing
raises ``av.error.ExitError`` (FFmpeg may first hand out what it buffered, so
a hang shows after one to two read timeouts). While opening, FFmpeg reports an
interrupted RTSP handshake as invalid data; the time taken tells a timeout from
a bad reply (:func:`video.faults.classify`). FFmpeg's own socket timeout (option
``timeout``, microseconds; ``stimeout`` before FFmpeg 5) is a second net, a
second longer than both. A demux loop that simply ends is a disconnect.

After a failure the thread waits (exponential backoff, full jitter: quickly for
``offline``, slowly for ``error``) on its stop event, so stopping is immediate
except while blocked in FFmpeg, which returns within the timeouts above.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable

import av

from app.base.backoff import Backoff
from app.base.settings import VideoSettings
from video import faults, keyframes, redact
from video.cameras import Camera
from video.health import CameraState, HealthTracker
from video.keyframes import Keyframe, KeyframeRing
from video.live import LiveFeed
from video.outage import OutageWatch, instant
from video.thumbnails import Thumbnail

log = logging.getLogger(__name__)

MJPEG_WIDTH = 1280


def stream_options(url: str, config: VideoSettings, *, audio: bool = False) -> dict[str, str]:
    """FFmpeg's options for pulling `url`: over TCP, video only (an audio track never costs a
    worker anything, nor breaks its video), with a socket timeout behind PyAV's own."""
    # FFmpeg's socket timeout is only the second net: PyAV's timeouts must fire first,
    # or a silent camera would be reported as "invalid data".
    micros = str(int((max(config.open_timeout, config.read_timeout) + 1) * 1_000_000))
    if url.lower().startswith(("rtsp://", "rtsps://")):
        # One second of probing is plenty for a camera's stream and keeps reconnects quick.
        options = {"rtsp_transport": "tcp", "timeout": micros, "analyzeduration": "1000000"}
        return options if audio else {**options, "allowed_media_types": "video"}
    return {"timeout": micros, "analyzeduration": "1000000"}


class CameraWorker(threading.Thread):
    def __init__(
        self,
        camera: Camera,
        config: VideoSettings,
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(name=f"video.capture:{camera.camera_id}", daemon=True)
        self.camera, self.config = camera, config
        self.url = camera.monitor_url  # SECRET
        self.stop_event = stop or threading.Event()
        self._clock = clock
        self._rng = rng or random.Random()
        started = clock()
        self.health = HealthTracker(camera.camera_id, camera.window_id, started)
        self.outage = OutageWatch(config.offline_after, started)
        self.ring = KeyframeRing(config.keyframe_ring)
        self.live = LiveFeed(camera.camera_id, max_queue=config.live_queue)
        self._retry = Backoff(config.retry_base, config.retry_cap, self._rng)
        self._error_retry = Backoff(config.error_retry_base, config.error_retry_cap, self._rng)
        self._thumbnail_due = 0.0
        self._thumbnail: Thumbnail | None = None  # made, not yet published
        self.latest_still: Thumbnail | None = None  # the newest decoded keyframe, as a thumbnail
        self.seat = None  # a video.presence.SeatWatch, attached by video.presence.follow: 空岗 from the thumbnails
        self._logged: tuple[CameraState, str | None] | None = None

    def stop(self) -> None:
        self.stop_event.set()

    def take_thumbnail(self) -> Thumbnail | None:
        """The thumbnail made since the last call, if any (for the publisher)."""
        thumbnail, self._thumbnail = self._thumbnail, None
        return thumbnail

    def run(self) -> None:
        delay = self._rng.uniform(0, self.config.start_spread)  # thousands of cameras must not connect at once
        while not self.stop_event.wait(delay):
            fault = self._session()
            if fault is None:
                break
            delay = self._after(fault)

    # --- one connection ---

    def _session(self) -> faults.Fault | None:
        """Pull until the stream fails or we are stopped; the fault, or None when stopped."""
        self.health.connecting(self._clock())
        attempt_began = time.monotonic()
        opening = True
        try:
            with av.open(
                self.url, options=stream_options(self.url, self.config), timeout=self._timeouts()
            ) as container:
                opening = False
                if not container.streams.video:
                    return faults.NO_VIDEO
                stream = container.streams.video[0]
                self.live.connected(stream.codec_context.name)
                self.health.connected(stream.codec_context.width, stream.codec_context.height, self._clock())
                for packet in container.demux(stream):
                    if self.stop_event.is_set():
                        return None
                    if packet.size:
                        self._on_packet(packet, stream)
            return None if self.stop_event.is_set() else faults.ENDED
        except Exception as exc:
            if self.stop_event.is_set():
                return None
            fault = faults.classify(
                exc,
                opening=opening,
                open_timeout=self.config.open_timeout,
                read_timeout=self.config.read_timeout,
                elapsed=time.monotonic() - attempt_began,
            )
            if fault.code == "unexpected":
                log.error(
                    "camera %s: %s\n%s",
                    self.camera.camera_id,
                    redact.describe(exc),
                    redact.redact(traceback.format_exc()),
                )
            else:
                log.debug("camera %s: %s", self.camera.camera_id, redact.describe(exc))
            return fault
        finally:
            self.live.end()

    def _timeouts(self) -> tuple[float, float]:
        return self.config.open_timeout, self.config.read_timeout

    def _on_packet(self, packet: av.Packet, stream) -> None:
        now = self._clock()
        pts = packet.pts
        pts_seconds = float(pts * packet.time_base) if pts is not None and packet.time_base else None
        if self.health.packet(now, pts_seconds, packet.size):
            self.outage.frame(now)
        if packet.is_keyframe:
            keyframe = keyframes.keyframe_of(packet, stream, now)
            self.ring.add(keyframe)
            if not self.health.decodable or now >= self._thumbnail_due or self.live.wants_stills:
                self._decode(keyframe, now)
        if self.live.wants_packets:
            self.live.feed(packet, stream)

    def _decode(self, keyframe: Keyframe, now: float) -> None:
        frame = keyframes.decode(keyframe)
        if frame is None:
            self.health.failed(*faults.UNDECODABLE, now)
            self._log_state()
            return
        self.health.keyframe_decoded(now, frame.width, frame.height)
        self.outage.frame(now)
        self._retry.reset()
        self._error_retry.reset()
        self._log_state()
        quality = self.config.jpeg_quality
        if now >= self._thumbnail_due:
            jpeg = keyframes.to_jpeg(frame, max_width=self.config.thumbnail_width, quality=quality)
            self._thumbnail = self.latest_still = Thumbnail(jpeg, instant(now))
            self._thumbnail_due = now + self.config.thumbnail_interval
            if self.seat is not None:
                self.seat.keyframe(frame, now)
        if self.live.wants_stills:
            self.live.still(keyframes.to_jpeg(frame, max_width=MJPEG_WIDTH, quality=quality))

    # --- between connections ---

    def _after(self, fault: faults.Fault) -> float:
        self.health.failed(fault.state, fault.code, fault.reason, self._clock())
        self._log_state()
        if fault.state is CameraState.ERROR:
            return self._error_retry.next_delay()
        return self._retry.next_delay()

    def _log_state(self) -> None:
        """One log line per change of state, not one per retry."""
        health = self.health.health(self._clock())
        current = (health.state, health.reason_code)
        if current == self._logged:
            return
        self._logged = current
        level = logging.INFO if health.state is CameraState.ONLINE else logging.WARNING
        log.log(
            level,
            "camera %s %s%s",
            self.camera.camera_id,
            health.state.value,
            f": {health.reason}" if health.reason else "",
        )
