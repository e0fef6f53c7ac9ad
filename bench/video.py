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

Then, for cameras as service halls have them (``--hall``; ``--hall-only`` skips
the above): a main stream (H.265, ``--main-size``, ``--main-kbps``) and an
H.264 substream (``--sub-size``, ``--sub-kbps``):

4. monitoring from the substream against the main stream: CPU and bytes per
   second per camera, and their ratio (the main stream is the baseline);
5. the H.264 transcode of an H.265 camera for browsers without HEVC: CPU per
   transcoded camera over monitoring it alone, and with several viewers
   sharing it;
6. takeover: two ``supervise video`` processes (real Redis, claimed database)
   share the cameras; one is SIGKILLed, and the time until the other reports
   every camera online is printed against the bound (heartbeat TTL + beat)
   and the 60 s the issue allows.

    .venv/bin/python bench/video.py [--seconds 20] [--cameras 4] [--viewers 4] [--hall | --hall-only]
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


def start_server(
    size: str, fps: int, gop: int, kbps: int, pattern: str, *extra: str, cameras: int = 1
) -> tuple[subprocess.Popen, str]:
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
            str(cameras),
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
            *extra,
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


def monitor(url: str, cameras: int, seconds: float, substream: str | None = None) -> tuple[float, dict]:
    import fakeredis

    from app.base.settings import VideoSettings
    from video.cameras import Camera
    from video.pool import CameraPool

    pool = CameraPool(fakeredis.FakeRedis(), VideoSettings(start_spread=0))
    ids = [f"B{n}" for n in range(cameras)]
    # One first: the test server sometimes aborts when several clients set up its shared stream at once.
    pool.sync([Camera(ids[0], None, url, substream_url=substream)])
    wait_online(pool, ids[:1])
    pool.sync([Camera(c, None, url, substream_url=substream) for c in ids])
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


def transcoded(url: str, viewers: int, seconds: float, baseline: float) -> float:
    """Added CPU s/s of one H.264 transcode of the H.265 camera at `url`, watched by `viewers`."""
    import fakeredis

    from app.base.settings import VideoSettings
    from video.cameras import Camera
    from video.pool import CameraPool
    from video.transcode import Transcodes

    pool = CameraPool(fakeredis.FakeRedis(), VideoSettings(start_spread=0))
    pool.sync([Camera("T1", None, url)])
    wait_online(pool, ["T1"])
    transcodes = Transcodes(1)
    output = transcodes.feed(pool.live_feed("T1"))
    stop = threading.Event()

    def watch() -> None:
        for _chunk in output.fmp4(idle_timeout=10):
            if stop.is_set():
                return

    threads = [threading.Thread(target=watch, name=f"bench.transcode-viewer{n}") for n in range(viewers)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    cpu = cpu_during(seconds)
    stop.set()
    for thread in threads:
        thread.join(15)
    transcodes.stop()
    pool.stop()
    return cpu / seconds - baseline


def takeover(url_of, cameras: int) -> tuple[float | None, float]:
    """(seconds from SIGKILL of one of two `supervise video` processes until the other reports all
    `cameras` online, the designed bound)."""
    import signal
    import tempfile

    import redis as redis_lib
    from sqlalchemy import insert

    from app.base import exchange as x
    from tests.redis_claim import claimed_database
    from video import health
    from video.membership import BEAT, TTL

    base = os.environ.get("SUPERVISE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory() as folder, claimed_database(base, hold_seconds=600) as redis_url:
        if redis_url is None:
            return None, TTL + BEAT
        exchange_url = f"sqlite:///{folder}/exchange.db"
        engine = x.exchange_engine(exchange_url)
        x.create_exchange_schema(engine)
        ids = [f"K{n}" for n in range(1, cameras + 1)]
        with engine.begin() as conn:
            conn.execute(insert(x.centers), [{"center_id": "C", "name": "中心", "level": "city"}])
            conn.execute(insert(x.windows), [{"window_id": c, "center_id": "C", "label": c} for c in ids])
            conn.execute(
                insert(x.cameras), [{"camera_id": c, "window_id": c, "url": url_of(n)} for n, c in enumerate(ids, 1)]
            )
        engine.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISE_")}
        env.update(SUPERVISE_EXCHANGE_URL=exchange_url, SUPERVISE_REDIS_URL=redis_url, SUPERVISE_VAR_DIR=folder)
        command = [sys.executable, "-c", "from app.cli import main; main()", "video", "--start-spread", "0"]
        members = {
            name: subprocess.Popen([*command, "--member", name], env=env, stderr=subprocess.DEVNULL)
            for name in ("bench-a", "bench-b")
        }
        redis = redis_lib.Redis.from_url(redis_url, socket_timeout=5)

        def online_by(allowed: set[str], fresh_after: float) -> bool:
            records = [health.read(redis, c) for c in ids]
            return all(
                r is not None
                and r.state.value == "online"
                and r.member in allowed
                and r.reported_at.timestamp() > fresh_after
                for r in records
            )

        try:
            deadline = time.monotonic() + 90
            while not online_by({"bench-a", "bench-b"}, 0) and time.monotonic() < deadline:
                time.sleep(0.2)
            killed = time.time()
            members["bench-b"].send_signal(signal.SIGKILL)
            members["bench-b"].wait()
            while not online_by({"bench-a"}, killed) and time.time() - killed < 120:
                time.sleep(0.2)
            taken = time.time() - killed
        finally:
            for process in members.values():
                process.kill()
                process.wait()
            redis.close()
        return taken, TTL + BEAT


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
    parser.add_argument("--hall", action="store_true", help="also: substream vs main, transcode, takeover")
    parser.add_argument("--hall-only", action="store_true", help="only the hall cameras' phases")
    parser.add_argument("--main-size", default="1280x720")
    parser.add_argument("--main-kbps", type=int, default=4096)
    parser.add_argument("--sub-size", default="640x360")
    parser.add_argument("--sub-kbps", type=int, default=512)
    args = parser.parse_args()

    if not args.hall_only:
        plain(args)
    if args.hall or args.hall_only:
        hall(args)


def hall(args) -> None:
    main_server, main_url = start_server(
        args.main_size, args.fps, args.gop, args.main_kbps, args.pattern, "--codec", "h265"
    )
    sub_server, sub_url = start_server(args.sub_size, args.fps, args.gop, args.sub_kbps, args.pattern, cameras=4)
    try:
        on_main, main_seen = monitor(main_url, args.cameras, args.seconds)
        on_sub, sub_seen = monitor(main_url, args.cameras, args.seconds, substream=sub_url)
        one = transcoded(main_url, 1, args.seconds, on_main)
        shared = transcoded(main_url, args.viewers, args.seconds, on_main)
        taken, bound = takeover(lambda n: sub_url.replace("/cam1", f"/cam{n}"), 4)
    finally:
        for server in (main_server, sub_server):
            server.kill()
            server.wait()
    print(
        f"hall camera: main {main_seen['size']} H.265 {main_seen['kbps']} kbit/s, substream {sub_seen['size']} "
        f"H.264 {sub_seen['kbps']} kbit/s, {args.fps} fps; {args.seconds:g} s per phase"
    )
    print(f"monitor from the main stream: {on_main:.4f} CPU s/s and {main_seen['kbps'] / 8:.0f} kB/s per camera")
    print(f"monitor from the substream:   {on_sub:.4f} CPU s/s and {sub_seen['kbps'] / 8:.0f} kB/s per camera")
    print(
        f"ratio substream / main: CPU {on_sub / on_main:.3f}, bytes {sub_seen['kbps'] / max(1, main_seen['kbps']):.3f}"
        f"   (6,000 cameras: {6000 * main_seen['kbps'] / 1e6:.1f} -> {6000 * sub_seen['kbps'] / 1e6:.1f} Gbit/s)"
    )
    print(
        f"H.264 transcode of the H.265 main: {one:.3f} CPU s/s for one viewer, {shared:.3f} for {args.viewers} "
        f"sharing it ({shared / max(one, 1e-9):.2f}x); the monitor alone is {on_main:.4f}"
    )
    if taken is None:
        print("takeover: not measured (no free Redis database number to claim)")
    else:
        print(f"takeover after SIGKILL of one of two video processes: {taken:.1f} s (bound {bound:g} s, allowed 60 s)")


def plain(args) -> None:
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
