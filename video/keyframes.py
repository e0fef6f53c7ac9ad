"""Keyframes: the only frames a camera worker ever decodes.

A worker demuxes every packet but decodes none of them, except a keyframe now
and then (a thumbnail is due, the stream must prove it decodes, someone
watches the MJPEG fallback). A keyframe decodes on its own, so each decode
uses a fresh single-threaded decoder: no reference frames, no frame-threading
delay, nothing to reset when the stream changes.

The worker also keeps the last few keyframes as they came off the wire (bytes,
a few tens of kB each) in a :class:`KeyframeRing`; evidence decodes them only
when someone asks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2


@dataclass(frozen=True)
class Keyframe:
    data: bytes  # the encoded packet, as demuxed (Annex B for H.264/H.265 over RTSP)
    codec: str  # decoder name, e.g. "h264"
    extradata: bytes | None  # parameter sets from the SDP, needed to decode `data` alone
    received_at: float  # epoch seconds
    pts: int | None
    time_base: Fraction | None

    @property
    def pts_seconds(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


class KeyframeRing:
    """The last `size` keyframes of one camera, oldest first. Thread-safe."""

    def __init__(self, size: int) -> None:
        self._frames: deque[Keyframe] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, keyframe: Keyframe) -> None:
        with self._lock:
            self._frames.append(keyframe)

    def recent(self) -> list[Keyframe]:
        with self._lock:
            return list(self._frames)

    def latest(self) -> Keyframe | None:
        with self._lock:
            return self._frames[-1] if self._frames else None


def keyframe_of(packet: av.Packet, stream: av.video.stream.VideoStream, received_at: float) -> Keyframe:
    context = stream.codec_context
    return Keyframe(
        data=bytes(packet),
        codec=context.name,
        extradata=context.extradata,
        received_at=received_at,
        pts=packet.pts,
        time_base=packet.time_base,
    )


def decode(keyframe: Keyframe) -> av.VideoFrame | None:
    """The picture in `keyframe`, or None if it does not decode."""
    decoder = av.CodecContext.create(keyframe.codec, "r")
    decoder.thread_count = 1  # frame threads would hold the picture back until more packets arrive
    if keyframe.extradata:
        decoder.extradata = keyframe.extradata
    try:
        frames = decoder.decode(av.Packet(keyframe.data))
        if not frames:
            frames = decoder.decode(None)  # streams with B-frames delay output: drain
    except (av.error.FFmpegError, ValueError):
        return None
    return frames[0] if frames else None


def to_jpeg(frame: av.VideoFrame, *, max_width: int | None = None, quality: int = 80) -> bytes:
    """`frame` as JPEG bytes, scaled down (same aspect) when wider than `max_width`."""
    width, height = frame.width, frame.height
    if max_width and width > max_width:
        width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
    pixels = frame.reformat(width=width, height=height, format="bgr24").to_ndarray()
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encoded.tobytes()


def first_keyframe(url: str, options: dict[str, str], timeouts: tuple[float, float], clock) -> Keyframe:
    """The first keyframe of the stream at `url` (opened for this alone, then closed).

    Evidence takes its still from the main stream of a camera watched on its
    substream. Raises PyAV's errors, or TimeoutError when no keyframe came
    within the open timeout plus two read timeouts (a GOP is seconds long)."""
    open_timeout, read_timeout = timeouts
    deadline = time.monotonic() + open_timeout + 2 * read_timeout
    with av.open(url, options=options, timeout=timeouts) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.is_keyframe:
                return keyframe_of(packet, stream, clock())
            if time.monotonic() > deadline:
                break
    raise TimeoutError("no keyframe from the main stream")
