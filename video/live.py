"""Live view: one camera pull, any number of viewers, no re-encoding.

The camera's own H.264 packets are remuxed (not decoded) into fragmented MP4,
one fragment per frame, and each fragment is copied to every viewer's queue.
A viewer who joins late gets the init segment (``ftyp`` + ``moov``) and then
fragments from the next keyframe on, with their decode times shifted so that
its stream starts at zero, as a browser expects. A viewer who cannot keep up
is dropped rather than allowed to slow the camera down for everyone.

The MJPEG fallback (for clients without MP4 streaming) sends keyframe stills,
so it costs one keyframe decode per GOP while someone watches it.

Remuxing happens only while someone watches; the capture thread calls
:meth:`LiveFeed.feed` with each packet, which returns at once otherwise.
A *tap* (:meth:`LiveFeed.tap`) sees every packet too: the H.264 transcode of
an H.265 camera (:mod:`video.transcode`) reads the camera that way.

The feed knows its camera's codec once connected (:attr:`LiveFeed.codec`), so
the browser can be told at once whether it may play it (``X-Live-Codec``).
"""

from __future__ import annotations

import io
import logging
import queue
import struct
import threading
from collections import deque
from collections.abc import Iterator

import av

log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof+frag_every_frame"
MJPEG_BOUNDARY = "frame"


class LiveFeed:
    """The live picture of one camera, shared by every viewer in this process."""

    def __init__(self, camera_id: str, *, max_queue: int = 250) -> None:
        self.camera_id = camera_id
        self.max_queue = max_queue
        self._lock = threading.Lock()
        self._viewers: set[_Viewer] = set()
        self._remuxer: _Remuxer | None = None
        self._stills = _Stills()
        self._taps: list = []
        self._connected = threading.Event()
        self.codec: str | None = None  # FFmpeg's name of the camera's video codec: "h264", "hevc"

    # --- what the camera sends ---

    def connected(self, codec: str) -> None:
        """The capture thread opened the camera; its video is `codec`."""
        self.codec = codec
        self._connected.set()

    def wait_codec(self, timeout: float) -> str | None:
        """The camera's codec, waiting up to `timeout` for a first connection."""
        self._connected.wait(timeout)
        return self.codec

    def tap(self, callback) -> None:
        """Call `callback(packet, stream)` with every packet from now on (from the capture thread: it
        must return at once and copy what it keeps), until :meth:`untap`."""
        with self._lock:
            self._taps = [*self._taps, callback]

    def untap(self, callback) -> None:
        with self._lock:
            self._taps = [t for t in self._taps if t is not callback]

    # --- the capture thread's side ---

    @property
    def wants_packets(self) -> bool:
        return bool(self._viewers or self._taps)

    @property
    def wants_stills(self) -> bool:
        return self._stills.watchers > 0

    def feed(self, packet: av.Packet, stream: av.video.stream.VideoStream) -> None:
        """Remux `packet` for the viewers. The packet's timestamps and stream are changed."""
        for callback in self._taps:
            callback(packet, stream)
        if not self._viewers:
            if self._remuxer is not None:
                self._close_remuxer()
            return
        if self._remuxer is None:
            if not packet.is_keyframe or packet.pts is None:
                return  # a stream starts at a keyframe
            self._remuxer = _Remuxer(stream)
        try:
            pieces = self._remuxer.mux(packet)
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("live %s: remuxing failed (%s); viewers must reconnect", self.camera_id, type(exc).__name__)
            self.end()
            return
        for init, fragment, is_key in pieces:
            self._deliver(init, fragment, is_key)

    def publish(self, pieces: list[tuple[bytes, bytes, bool]]) -> None:
        """Fragments muxed elsewhere ((init segment, fragment, starts with a keyframe), as from a
        transcode) for this feed's viewers."""
        for init, fragment, is_key in pieces:
            self._deliver(init, fragment, is_key)

    def still(self, jpeg: bytes) -> None:
        """A new keyframe still for the MJPEG viewers."""
        self._stills.publish(jpeg)

    def end(self) -> None:
        """The camera's stream ended: every viewer's response ends (players reconnect)."""
        with self._lock:
            viewers, self._viewers = self._viewers, set()
        for viewer in viewers:
            viewer.close()
        self._close_remuxer()

    # --- the viewers' side ---

    def fmp4(self, *, idle_timeout: float = 10.0) -> Iterator[bytes]:
        """Fragmented MP4 bytes for one viewer, until the camera stops or the viewer leaves."""
        viewer = _Viewer(self.max_queue)
        with self._lock:
            self._viewers.add(viewer)
        try:
            while True:
                try:
                    chunk = viewer.queue.get(timeout=idle_timeout)
                except queue.Empty:
                    return  # no picture for a while: end the response rather than hang a server thread
                if chunk is None:
                    return
                yield chunk
        finally:
            with self._lock:
                self._viewers.discard(viewer)

    def mjpeg(self, *, idle_timeout: float = 10.0) -> Iterator[bytes]:
        """``multipart/x-mixed-replace`` parts, one JPEG per keyframe (boundary ``frame``)."""
        for jpeg in self._stills.watch(idle_timeout):
            yield (
                f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )

    @property
    def viewers(self) -> int:
        """Who watches: fMP4 and MJPEG viewers, and taps (a transcode serving its own)."""
        return len(self._viewers) + self._stills.watchers + len(self._taps)

    def _deliver(self, init: bytes, fragment: bytes, is_key: bool) -> None:
        with self._lock:
            viewers = list(self._viewers)
        for viewer in viewers:
            if not viewer.send(init, fragment, is_key):
                log.info("live %s: a viewer fell behind and was dropped", self.camera_id)
                with self._lock:
                    self._viewers.discard(viewer)

    def _close_remuxer(self) -> None:
        remuxer, self._remuxer = self._remuxer, None
        if remuxer is not None:
            remuxer.close()


class _Viewer:
    def __init__(self, max_queue: int) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_queue)
        self._base: int | None = None  # decode time of this viewer's first fragment

    def send(self, init: bytes, fragment: bytes, is_key: bool) -> bool:
        """Queue `fragment` (after the init segment, from a keyframe on); False if the viewer fell behind."""
        try:
            if self._base is None:
                if not is_key:
                    return True
                self._base = decode_time(fragment)
                self.queue.put_nowait(init)
            self.queue.put_nowait(rebase(fragment, self._base) if self._base else fragment)
            return True
        except queue.Full:
            self.close()
            return False

    def close(self) -> None:
        try:
            self.queue.put_nowait(None)
        except queue.Full:  # it will time out on its own, or is being torn down anyway
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
            self.queue.put_nowait(None)


class _Remuxer:
    """H.264 packets in, (init segment, fragment, fragment starts with a keyframe) out."""

    def __init__(self, template: av.video.stream.VideoStream) -> None:
        self._sink = _BoxSink()
        self._output = av.open(self._sink, "w", format="mp4", options={"movflags": MOVFLAGS})
        self._stream = self._output.add_stream_from_template(template)
        self._origin: int | None = None
        self._last_dts: int | None = None
        self._key_flags: deque[bool] = deque()

    def mux(self, packet: av.Packet) -> list[tuple[bytes, bytes, bool]]:
        if packet.pts is None or packet.dts is None:
            return []
        if self._origin is None:
            self._origin = packet.dts
        dts = packet.dts - self._origin
        if self._last_dts is not None and dts <= self._last_dts:
            return []  # the mp4 muxer refuses time going backwards; one lost frame is better than a dead view
        self._last_dts = dts
        packet.pts, packet.dts = packet.pts - self._origin, dts
        packet.stream = self._stream
        self._key_flags.append(packet.is_keyframe)
        self._output.mux(packet)
        # With frag_every_frame the muxer writes each frame's fragment when the next frame arrives.
        return [(self._sink.init, fragment, self._key_flags.popleft()) for fragment in self._sink.take()]

    def close(self) -> None:
        try:
            self._output.close()
        except (av.error.FFmpegError, ValueError):
            pass


class _BoxSink(io.RawIOBase):
    """Collects the muxer's output and cuts it into the init segment and whole fragments."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._fragment = bytearray()
        self._fragments: list[bytes] = []
        self.init = b""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pending += data
        while len(self._pending) >= 8:
            size, kind = struct.unpack(">I4s", self._pending[:8])
            if size == 1 and len(self._pending) >= 16:
                size = struct.unpack(">Q", self._pending[8:16])[0]
            if size < 8 or len(self._pending) < size:
                break
            box = bytes(self._pending[:size])
            del self._pending[:size]
            if kind in (b"ftyp", b"moov"):
                self.init += box
            elif kind == b"moof":
                self._fragment = bytearray(box)
            elif kind == b"mdat":
                self._fragments.append(bytes(self._fragment) + box)
                self._fragment = bytearray()
            # mfra/sidx at the end of a closed file are of no use to a live viewer
        return len(data)

    def take(self) -> list[bytes]:
        fragments, self._fragments = self._fragments, []
        return fragments


def _child_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        if size < 8:
            return
        yield kind, start, start + size
        start += size


def _tfdt(fragment: bytes) -> tuple[int, int] | None:
    """(offset, version) of the tfdt box in `fragment` (moof + mdat), or None."""
    for kind, start, end in _child_boxes(fragment, 0, len(fragment)):
        if kind != b"moof":
            continue
        for kind2, start2, end2 in _child_boxes(fragment, start + 8, end):
            if kind2 != b"traf":
                continue
            for kind3, start3, _ in _child_boxes(fragment, start2 + 8, end2):
                if kind3 == b"tfdt":
                    return start3, fragment[start3 + 8]
    return None


def decode_time(fragment: bytes) -> int:
    """baseMediaDecodeTime of `fragment` (0 if it has none)."""
    found = _tfdt(fragment)
    if found is None:
        return 0
    offset, version = found
    return struct.unpack_from(">Q" if version == 1 else ">I", fragment, offset + 12)[0]


def rebase(fragment: bytes, base: int) -> bytes:
    """`fragment` with its baseMediaDecodeTime lowered by `base`."""
    found = _tfdt(fragment)
    if found is None:
        return fragment
    offset, version = found
    layout = ">Q" if version == 1 else ">I"
    patched = bytearray(fragment)
    value = struct.unpack_from(layout, patched, offset + 12)[0]
    struct.pack_into(layout, patched, offset + 12, max(0, value - base))
    return bytes(patched)


class _Stills:
    """The newest keyframe still and the MJPEG viewers waiting for the next one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._serial = 0
        self.watchers = 0

    def publish(self, jpeg: bytes) -> None:
        with self._cond:
            self._jpeg, self._serial = jpeg, self._serial + 1
            self._cond.notify_all()

    def watch(self, idle_timeout: float) -> Iterator[bytes]:
        with self._cond:
            self.watchers += 1
            seen = self._serial - 1 if self._jpeg is not None else self._serial  # show the current still at once
        try:
            while True:
                with self._cond:
                    if not self._cond.wait_for(lambda: self._serial != seen, timeout=idle_timeout):
                        return
                    seen, jpeg = self._serial, self._jpeg
                yield jpeg
        finally:
            with self._cond:
                self.watchers -= 1
