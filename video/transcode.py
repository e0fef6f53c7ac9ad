"""H.265 cameras for browsers that cannot play H.265: an H.264 transcode while someone watches.

Most service-hall cameras send H.265 on their main stream, and a browser's
Media Source Extensions play it only where the platform has a decoder. For a
camera with no H.264 stream to pass through, and a browser that says it
cannot play HEVC, a :class:`Transcoder` (thread ``video.transcode:<camera>``)
taps the camera's :class:`~video.live.LiveFeed`, decodes every frame, encodes
H.264 (x264, ultrafast, zero latency, a keyframe a second so a viewer starts
quickly) and muxes it into fragmented MP4 for a feed of its own. One
transcode serves every viewer of the camera in this process; it ends a few
seconds after its last viewer left.

Decoding and encoding every frame costs a CPU core's good share per camera
(bench/video.py), so :class:`Transcodes` caps how many run in one process
(``VideoSettings.transcode_cap``); past the cap a viewer gets MJPEG stills
with a note saying why.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from fractions import Fraction

import av

from video.live import MOVFLAGS, LiveFeed, _BoxSink

log = logging.getLogger(__name__)

LINGER = 5.0  # seconds a transcode outlives its last viewer (a page reload keeps it)
BACKLOG = 50  # packets waiting for the encoder before it skips to the next keyframe
CLOCK = Fraction(1, 90_000)


class Transcodes:
    """The transcodes of one process, at most `cap` at once, one per camera."""

    def __init__(self, cap: int, *, max_width: int = 1280, live_queue: int = 250) -> None:
        self.cap, self.max_width, self.live_queue = cap, max_width, live_queue
        self._running: dict[str, Transcoder] = {}
        self._lock = threading.Lock()

    def feed(self, source: LiveFeed) -> LiveFeed | None:
        """The H.264 feed of `source`'s camera: the running transcode's, or a new one's; None past the cap."""
        with self._lock:
            running = self._running.get(source.camera_id)
            if running is not None and running.is_alive() and running.source is source:
                running.wanted()
                return running.output
            if running is not None:
                running.stop()
                del self._running[source.camera_id]
            if len(self._running) >= self.cap:
                return None
            transcoder = Transcoder(source, self._ended, max_width=self.max_width, live_queue=self.live_queue)
            self._running[source.camera_id] = transcoder
            transcoder.start()
            return transcoder.output

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def stop(self) -> None:
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for transcoder in running:
            transcoder.stop()
        for transcoder in running:
            transcoder.join(5)

    def _ended(self, transcoder: Transcoder) -> None:
        with self._lock:
            if self._running.get(transcoder.source.camera_id) is transcoder:
                del self._running[transcoder.source.camera_id]


class Transcoder(threading.Thread):
    def __init__(self, source: LiveFeed, on_end, *, max_width: int = 1280, live_queue: int = 250) -> None:
        super().__init__(name=f"video.transcode:{source.camera_id}", daemon=True)
        self.source, self._on_end, self.max_width = source, on_end, max_width
        self.output = LiveFeed(source.camera_id, max_queue=live_queue)
        self._packets: queue.Queue = queue.Queue(maxsize=BACKLOG)
        self._stopping = threading.Event()
        self._wanted_at = time.monotonic()
        self._skip_to_key = True
        self._decoder = None
        self._encoder = None
        self._origin: int | None = None
        self._last_pts: int | None = None

    def wanted(self) -> None:
        self._wanted_at = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        self.source.tap(self._tap)
        try:
            while not self._stopping.is_set():
                if self.output.viewers:
                    self._wanted_at = time.monotonic()
                elif time.monotonic() - self._wanted_at > LINGER:
                    break
                try:
                    item = self._packets.get(timeout=0.5)
                except queue.Empty:
                    continue
                self._transcode(*item)
        except Exception as exc:  # a broken stream ends this transcode; viewers reconnect to a new one
            log.warning("transcode %s ended: %s", self.source.camera_id, type(exc).__name__)
        finally:
            self.source.untap(self._tap)
            self.output.end()
            self._close()
            self._on_end(self)

    # --- the capture thread's side: copy and return ---

    def _tap(self, packet: av.Packet, stream) -> None:
        if not packet.size:
            return
        if self._skip_to_key and not packet.is_keyframe:
            return
        context = stream.codec_context
        item = (bytes(packet), packet.pts, packet.is_keyframe, context.name, context.extradata, stream.average_rate)
        try:
            self._packets.put_nowait(item)
            self._skip_to_key = False
        except queue.Full:  # the encoder fell behind: drop until the next keyframe rather than slow the camera
            self._skip_to_key = True

    # --- this thread ---

    def _transcode(self, data: bytes, pts, is_key: bool, codec: str, extradata, rate) -> None:
        if self._decoder is None:
            if not is_key:
                return
            self._decoder = av.CodecContext.create(codec, "r")
            if extradata:
                self._decoder.extradata = extradata
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        try:
            frames = self._decoder.decode(packet)
        except (av.error.FFmpegError, ValueError):
            return  # one bad packet; the next keyframe heals the picture
        for frame in frames:
            self._encode(frame, rate)

    def _encode(self, frame: av.VideoFrame, rate) -> None:
        if self._encoder is None:
            self._start_encoder(frame, rate)
        out, stream, sink, keys = self._encoder
        width, height = stream.width, stream.height
        if (frame.width, frame.height) != (width, height) or frame.format.name != "yuv420p":
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        # The camera's own clock (RTP video runs at 90 kHz), so the picture keeps its real pace.
        if frame.pts is None or (self._last_pts is not None and frame.pts <= self._last_pts):
            return
        self._origin = frame.pts if self._origin is None else self._origin
        self._last_pts = frame.pts
        frame.pts, frame.time_base = frame.pts - self._origin, CLOCK
        frame.pict_type = av.video.frame.PictureType.NONE  # x264 places the keyframes
        for packet in stream.encode(frame):
            keys.append(packet.is_keyframe)
            out.mux(packet)
        self.output.publish([(sink.init, fragment, keys.pop(0)) for fragment in sink.take()])

    def _start_encoder(self, frame: av.VideoFrame, rate) -> None:
        fps = int(round(float(rate))) if rate else 25
        width, height = frame.width, frame.height
        if width > self.max_width:
            width, height = self.max_width, max(2, round(height * self.max_width / width / 2) * 2)
        sink = _BoxSink()
        out = av.open(sink, "w", format="mp4", options={"movflags": MOVFLAGS})
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = CLOCK
        stream.codec_context.gop_size = fps  # a keyframe a second: a new viewer waits at most that
        self._encoder = (out, stream, sink, [])
        log.info("transcode %s: H.264 %dx%d at %d fps", self.source.camera_id, width, height, fps)

    def _close(self) -> None:
        if self._encoder is not None:
            try:
                self._encoder[0].close()
            except (av.error.FFmpegError, ValueError):
                pass
            self._encoder = None
