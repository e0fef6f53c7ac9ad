"""Live fan-out without a camera: H.264 made here, remuxed to fMP4 for viewers who come and go."""

from __future__ import annotations

import io
import threading
import time

import av
import numpy as np
import pytest

from video import live
from video.live import LiveFeed

GOP = 10


@pytest.fixture(scope="module")
def h264_packets():
    """60 frames of 160x120 H.264, a keyframe every 10, demuxed like a camera's stream."""
    encoded = io.BytesIO()
    with av.open(encoded, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25, options={"g": str(GOP), "bf": "0", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for n in range(60):
            pixels = np.full((120, 160, 3), n * 4 % 255, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode(None))
    encoded.seek(0)
    container = av.open(encoded)
    stream = container.streams.video[0]
    packets = [p for p in container.demux(stream) if p.size]
    yield stream, packets
    container.close()


class Viewer(threading.Thread):
    def __init__(self, feed: LiveFeed, read_delay: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.feed, self.read_delay, self.chunks = feed, read_delay, []

    def run(self) -> None:
        for chunk in self.feed.fmp4(idle_timeout=1):
            self.chunks.append(chunk)
            time.sleep(self.read_delay)

    def frames(self) -> list[tuple[int, bool]]:
        with av.open(io.BytesIO(b"".join(self.chunks))) as container:
            return [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size]


def wait_for_viewers(feed: LiveFeed, count: int) -> None:
    deadline = time.monotonic() + 5
    while feed.viewers < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.viewers == count


def test_late_viewer_starts_at_a_keyframe_at_time_zero(h264_packets):
    stream, packets = h264_packets
    feed = LiveFeed("K1")
    early = Viewer(feed)
    early.start()
    wait_for_viewers(feed, 1)
    for packet in packets[:25]:
        feed.feed(packet, stream)
    late = Viewer(feed)
    late.start()
    wait_for_viewers(feed, 2)
    for packet in packets[25:]:
        feed.feed(packet, stream)
    feed.end()
    early.join(5)
    late.join(5)
    early_frames, late_frames = early.frames(), late.frames()
    assert early_frames[0] == (0, True) and len(early_frames) >= 58
    assert late_frames[0] == (0, True)  # its own stream begins at zero, with a keyframe
    assert 28 <= len(late_frames) <= 35  # from the keyframe after it joined (frame 30) on


def test_slow_viewer_is_dropped_and_others_keep_going(h264_packets):
    stream, packets = h264_packets
    feed = LiveFeed("K1", max_queue=10)
    stuck, healthy = Viewer(feed, read_delay=10), Viewer(feed)
    stuck.start()
    healthy.start()
    wait_for_viewers(feed, 2)
    for packet in packets:
        feed.feed(packet, stream)
        time.sleep(0.001)
    wait_for_viewers(feed, 1)  # the stuck one is gone
    feed.end()
    healthy.join(5)
    assert len(healthy.frames()) >= 58


def test_nothing_is_remuxed_without_viewers(h264_packets):
    stream, packets = h264_packets
    feed = LiveFeed("K1")
    for packet in packets[:5]:
        feed.feed(packet, stream)
    assert feed._remuxer is None


def test_rebase_shifts_only_the_decode_time():
    # a minimal moof/traf/tfdt(version 1) + mdat
    tfdt = (20).to_bytes(4, "big") + b"tfdt" + bytes([1, 0, 0, 0]) + (90_000).to_bytes(8, "big")
    traf = (8 + len(tfdt)).to_bytes(4, "big") + b"traf" + tfdt
    moof = (8 + len(traf)).to_bytes(4, "big") + b"moof" + traf
    fragment = moof + (12).to_bytes(4, "big") + b"mdat" + b"abcd"
    assert live.decode_time(fragment) == 90_000
    shifted = live.rebase(fragment, 30_000)
    assert live.decode_time(shifted) == 60_000 and len(shifted) == len(fragment) and shifted.endswith(b"abcd")
