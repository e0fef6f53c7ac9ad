"""How many cameras can one core watch? The camera monitor against a full decode.

Runs the shared rtsp-test-server (/work/shared/tools/rtsp-test-server, system
Python + GStreamer) with one 720p25 H.264 camera, then, one after the other,
in this process:

1. monitor: a CameraPool pulling `--cameras` copies of that stream (health,
   fps/bitrate, a keyframe thumbnail every 5 s, keyframe ring), Redis stand-in;
2. full read: cv2.VideoCapture reading every frame of the same stream, as a
   naive monitor would;
3. live view: one monitored camera with 1, then `--viewers`, fMP4 viewers
   (remux, fan-out, per-viewer timestamp shift; bytes discarded, no sockets).

It prints CPU seconds per second per camera (process CPU time, all threads),
the ratio, the implied cameras per core, and the live view's added CPU per
viewer and added latency (from a packet leaving the demuxer to its fragment
reaching a viewer; camera and network latency come on top).

    .venv/bin/python bench/video.py [--seconds 20] [--cameras 4] [--viewers 4]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SERVER = os.environ.get("RTSP_TEST_SERVER", "/work/shared/tools/rtsp-test-server")


def start_server(size: str, fps: int, gop: int, kbps: int, pattern: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            "/usr/bin/python3",
            SERVER,
            "--port",
            str(port),
            "--cameras",
            "1",
            "--size",
            size,
            "--fps",
            str(fps),
            "--gop",
            str(gop),
            "--kbps",
            str(kbps),
            "--pattern",
            pattern,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.5)[0] and process.stdout.readline().startswith("READY"):
            return process, f"rtsp://127.0.0.1:{port}/cam1"
        if process.poll() is not None:
            break
    process.kill()
    sys.exit(f"rtsp-test-server did not start: {process.stderr.read()}")


def cpu_during(seconds: float) -> float:
    """Process CPU seconds (all threads) spent during the next `seconds` of wall time."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


def wait_online(pool, camera_ids, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(pool.health(c).state.value == "online" for c in camera_ids):
            return
        time.sleep(0.2)
    pool.stop()
    raise RuntimeError(f"cameras not online: {[pool.health(c).reason for c in camera_ids]}")


def monitor(url: str, cameras: int, seconds: float) -> tuple[float, dict]:
    import fakeredis

    from app.base.settings import VideoSettings
    from video.cameras import Camera
    from video.pool import CameraPool

    pool = CameraPool(fakeredis.FakeRedis(), VideoSettings(start_spread=0))
    ids = [f"B{n}" for n in range(cameras)]
    # One first: the test server sometimes aborts when several clients set up its shared stream at once.
    pool.sync([Camera(ids[0], None, url)])
    wait_online(pool, ids[:1])
    pool.sync([Camera(c, None, url) for c in ids])
    wait_online(pool, ids)
    time.sleep(3)  # past connection set-up and probing
    cpu = cpu_during(seconds)
    record = pool.health(ids[0])
    pool.stop()
    return cpu / seconds / cameras, {
        "fps": record.fps,
        "size": f"{record.width}x{record.height}",
        "kbps": (record.bitrate or 0) // 1000,
    }


def full_read(url: str, seconds: float) -> tuple[float, int]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    import cv2

    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        sys.exit("cv2.VideoCapture could not open the stream")
    for _ in range(30):
        capture.read()
    frames = 0
    before, started = time.process_time(), time.monotonic()
    while time.monotonic() - started < seconds:
        ok, _ = capture.read()
        frames += ok
    cpu = time.process_time() - before
    capture.release()
    return cpu / seconds, frames


def live_view(url: str, viewers: int, seconds: float, baseline: float) -> tuple[float, list[float]]:
    """(added CPU s/s for `viewers` viewers over the monitor alone, per-fragment latencies in ms)."""
    import fakeredis

    from app.base.settings import VideoSettings
    from video.cameras import Camera
    from video.pool import CameraPool

    pool = CameraPool(fakeredis.FakeRedis(), VideoSettings(start_spread=0))
    pool.sync([Camera("L1", None, url)])
    wait_online(pool, ["L1"])
    feed = pool.live_feed("L1")
    fed: list[tuple[float, bool]] = []  # (when, keyframe) of each packet handed to the remuxer
    real_feed = feed.feed

    def timed_feed(packet, stream):
        if feed.wants_packets:
            fed.append((time.monotonic(), packet.is_keyframe))
        real_feed(packet, stream)

    feed.feed = timed_feed
    stop = threading.Event()
    received: list[list[float]] = [[] for _ in range(viewers)]
    joined: list[float] = []

    def watch(times: list[float]) -> None:
        joined.append(time.monotonic())
        for _chunk in feed.fmp4(idle_timeout=10):
            times.append(time.monotonic())
            if stop.is_set():
                return

    threads = [threading.Thread(target=watch, args=(r,), name=f"bench.viewer{n}") for n, r in enumerate(received)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    cpu = cpu_during(seconds)
    stop.set()
    for thread in threads:
        thread.join(15)
    pool.stop()
    # the viewer's first chunk is the init segment, its second the first keyframe fed after it joined
    first_key = next(i for i, (when, key) in enumerate(fed) if key and when >= max(joined))
    latencies = [
        1000 * (got - fed[first_key + n][0]) for n, got in enumerate(received[0][1:]) if first_key + n < len(fed)
    ]
    return cpu / seconds - baseline, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--cameras", type=int, default=4, help="monitored copies of the stream")
    parser.add_argument("--viewers", type=int, default=4)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--gop", type=int, default=50)
    parser.add_argument("--kbps", type=int, default=2048)
    parser.add_argument(
        "--pattern",
        default="ball",
        help="videotestsrc pattern: ball (motion, like a person), smpte (still), snow (noise)",
    )
    args = parser.parse_args()

    server, url = start_server(args.size, args.fps, args.gop, args.kbps, args.pattern)
    try:
        per_camera, seen = monitor(url, args.cameras, args.seconds)
        full, frames = full_read(url, args.seconds)
        one_viewer, _ = live_view(url, 1, args.seconds, per_camera)
        many_viewers, latencies = live_view(url, args.viewers, args.seconds, per_camera)
    except RuntimeError as exc:
        alive = (
            "running" if server.poll() is None else f"exited with {server.returncode}: {server.stderr.read()[-800:]}"
        )
        sys.exit(f"{exc}\nrtsp-test-server {alive}")
    finally:
        server.kill()
        server.wait()

    print(
        f"stream: {seen['size']} at {seen['fps']} fps (measured), {seen['kbps']} kbit/s, "
        f"keyframe every {args.gop} frames, pattern {args.pattern}; {args.seconds:g} s per phase; "
        f"{os.cpu_count()} CPUs, shared"
    )
    print(f"monitor (health + thumbnails), {args.cameras} cameras: {per_camera:.4f} CPU s/s per camera")
    print(
        f"cv2.VideoCapture reading every frame:   {full:.4f} CPU s/s per camera "
        f"({frames / args.seconds:.1f} frames/s decoded)"
    )
    print(f"ratio monitor / full read: {per_camera / full:.3f}   (goal <= 0.2)")
    print(
        f"one core monitors about {1 / per_camera:.0f} cameras of this kind   (goal >= 50); "
        f"with full decoding: {1 / full:.1f}"
    )
    print(
        f"live view: first viewer adds {one_viewer:.4f} CPU s/s (remux); {args.viewers} viewers add "
        f"{many_viewers:.4f} CPU s/s, i.e. {(many_viewers - one_viewer) / max(1, args.viewers - 1):.4f} "
        f"per further viewer"
    )
    if latencies:
        ordered = sorted(latencies)
        print(
            f"live view added latency (demuxer -> viewer): median {statistics.median(ordered):.0f} ms, "
            f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms over {len(ordered)} fragments "
            f"(one frame interval is {1000 / args.fps:.0f} ms: a fragment is cut when the next frame arrives)"
        )


if __name__ == "__main__":
    main()
