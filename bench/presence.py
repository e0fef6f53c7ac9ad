"""空岗 from the picture: seat presence and the 15-minute alarm against the demo scenes' ground truth.

The demo scenes (video/demo_cameras.py) are drawn from the time alone, so the
truth is known for every instant (Scene.absences). This bench draws each scene
with cairo (system Python, as the demo server does) at one keyframe every
`--every` seconds over one working day (08:30–17:30 local), passes each picture
through JPEG at quality 50 (coding noise, like the H.264 the workers decode),
and, in this process:

1. ours: video.presence.SeatWatch (motion + empty-seat model, hysteresis) on the
   default seat region;
2. baseline: OpenCV's MOG2 background subtractor on the same region (the usual
   "background model"); OpenCV's HOG people detector and Haar cascades are not
   in the pip wheel this project installs (opencv-python-headless 5.x: no
   cv2.HOGDescriptor, no cascade files in cv2.data), so they cannot be measured.

It prints, per detector: precision and recall of "seat empty" per keyframe
(raw, and after hysteresis for ours), of the 空岗 alarm at the 15-minute limit
(rules.presence on the detected empty stretches against rules.presence on the
true absences, a detected alarm counting when a true one fired within
`--tolerance` seconds of it), CPU per camera per keyframe (process time of the
detector alone; decoding the keyframe is paid anyway for the thumbnail), the
cameras one core can watch at one keyframe every 5 s, and the ratio of the two
detectors' CPU.

    .venv/bin/python bench/presence.py [--scenes 8] [--every 5] [--day 2026-12-03]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2
import numpy as np

from rules.calendar import WorkCalendar
from rules.presence import YELLOW, Office, window_unattended
from video.demo_cameras import HEIGHT, WIDTH, Scene
from video.presence import EMPTY, PRESENT, SeatDetector, SeatRegion, SeatWatch, small

SYSTEM_PYTHON = "/usr/bin/python3"
SCALE = 0.5  # drawn 320 pixels wide, as video.presence looks at a picture
RENDER = """
import sys, cairo
sys.path.insert(0, {root!r})
from video.demo_cameras import Scene, WIDTH, HEIGHT
scene = Scene({scene})
w, h = int(WIDTH * {scale}), int(HEIGHT * {scale})
surface = cairo.ImageSurface(cairo.FORMAT_RGB24, w, h)
out = sys.stdout.buffer
for i in range({count}):
    cr = cairo.Context(surface)
    cr.scale({scale}, {scale})
    scene.draw(cr, {start!r} + i * {every!r})
    surface.flush()
    out.write(bytes(surface.get_data()))
    out.flush()
"""


def pictures(scene: int, start: float, every: float, count: int):
    """BGR pictures of `scene` at start + i * every, drawn by the system Python's cairo, JPEG'd at quality 50."""
    w, h = int(WIDTH * SCALE), int(HEIGHT * SCALE)
    code = RENDER.format(root=str(ROOT), scene=scene, scale=SCALE, start=start, every=every, count=count)
    process = subprocess.Popen([SYSTEM_PYTHON, "-c", code], stdout=subprocess.PIPE)
    size = w * h * 4
    for _ in range(count):
        raw = process.stdout.read(size)
        if len(raw) < size:
            raise SystemExit(f"drawing scene {scene} failed (system Python with python3-gi-cairo needed)")
        bgr = np.frombuffer(raw, np.uint8).reshape(h, w, 4)[:, :, :3]
        ok, coded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50])
        yield cv2.imdecode(coded, cv2.IMREAD_COLOR)
    process.wait()


class Mog2:
    """Baseline: MOG2 on the seat region; occupied when enough of it is foreground, with the same hysteresis."""

    def __init__(self, region: SeatRegion) -> None:
        self.region = region
        self.model = cv2.createBackgroundSubtractorMOG2(history=120, varThreshold=16, detectShadows=False)

    def look(self, picture: np.ndarray) -> str:
        mask = self.model.apply(self.region.crop(picture))
        return PRESENT if (mask > 0).mean() > 0.02 else EMPTY


def stretches(states: list[tuple[float, str]], end: float) -> list[tuple[float, float]]:
    """Empty stretches (since, until) from decided states dated by their first keyframe."""
    found, since = [], None
    for at, state in states:
        if state == EMPTY and since is None:
            since = at
        elif state != EMPTY and since is not None:
            found.append((since, at))
            since = None
    if since is not None:
        found.append((since, end))
    return found


def hysteresis(raw: list[tuple[float, str]], to_empty: int, to_present: int) -> list[tuple[float, str]]:
    """The decided states of a raw keyframe series, as SeatWatch decides them (for the baseline)."""
    decided, state, run_state, run_since, count = [], None, None, 0.0, 0
    for at, seen in raw:
        if seen != run_state:
            run_state, run_since, count = seen, at, 1
        else:
            count += 1
        if count >= (to_empty if seen == EMPTY else to_present) and seen != state:
            state = seen
            decided.append((run_since, seen))
    return decided


def alarms(spans: list[tuple[float, float]], office: Office, zone, end: float) -> list[datetime]:
    """fired_at of every yellow 空岗 the rule raises for these empty stretches."""
    now = datetime.fromtimestamp(end, zone)
    fired = []
    for since, until in spans:
        facts = window_unattended(
            datetime.fromtimestamp(since, zone),
            now,
            office,
            empty_until=datetime.fromtimestamp(until, zone) if until < end else None,
        )
        fired += [f.fired_at for f in facts if f.kind == YELLOW]
    return fired


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between keyframes looked at")
    parser.add_argument("--day", default="2026-12-03", help="a working day (YYYY-MM-DD)")
    parser.add_argument("--tolerance", type=float, default=60.0, help="seconds an alarm may be early or late")
    parser.add_argument("--tz", default="Asia/Shanghai")
    args = parser.parse_args()
    try:
        day, zone = date.fromisoformat(args.day), ZoneInfo(args.tz)
    except (ValueError, KeyError) as exc:
        raise SystemExit(f"bad --day or --tz: {exc}") from None
    office = Office(WorkCalendar(), zone)
    start = datetime.combine(day, clock(8, 30), zone).timestamp()
    end = datetime.combine(day, clock(17, 30), zone).timestamp()
    count = int((end - start) // args.every)
    instants = [start + i * args.every for i in range(count)]
    tuning = SeatDetector().tuning
    totals = {
        name: {"kf": [0, 0, 0, 0], "hyst": [0, 0, 0, 0], "alarm": [0, 0, 0], "cpu": 0.0} for name in ("ours", "mog2")
    }
    frames = 0
    print(f"{args.scenes} scenes, {day} 08:30-17:30 {args.tz}, a keyframe every {args.every:g} s", flush=True)
    for number in range(1, args.scenes + 1):
        scene = Scene(number)
        truth_spans = scene.absences(start, end)
        truth_alarms = alarms(truth_spans, office, zone, end)
        watch, mog2 = SeatWatch(f"scene{number}"), Mog2(SeatRegion())
        raw = {"ours": [], "mog2": []}
        decided = []
        for at, picture in zip(instants, pictures(number, start, args.every, count), strict=True):
            frames += 1
            began = time.process_time()
            state_before = watch.state
            raw["ours"].append((at, watch.picture(picture, at)))
            middle = time.process_time()
            raw["mog2"].append((at, mog2.look(picture)))
            totals["mog2"]["cpu"] += time.process_time() - middle
            totals["ours"]["cpu"] += middle - began
            if watch.state != state_before:
                decided.append((watch.take_changes()[-1].since.timestamp(), watch.state))
        series = {"ours": decided, "mog2": hysteresis(raw["mog2"], tuning.to_empty, tuning.to_present)}
        for name in ("ours", "mog2"):
            t = totals[name]
            state_at = _stepper(series[name])
            for at, seen in raw[name]:
                truly_empty = not scene.staff_present(at)
                _count(t["kf"], seen == EMPTY, truly_empty)
                _count(t["hyst"], state_at(at) == EMPTY, truly_empty)
            found = alarms(stretches(series[name], end), office, zone, end)
            hits = [f for f in found if any(abs((f - a).total_seconds()) <= args.tolerance for a in truth_alarms)]
            met = [a for a in truth_alarms if any(abs((f - a).total_seconds()) <= args.tolerance for f in found)]
            t["alarm"][0] += len(hits)
            t["alarm"][1] += len(found) - len(hits)
            t["alarm"][2] += len(truth_alarms) - len(met)
        print(f"  scene {number}: {len(truth_spans)} absences, {len(truth_alarms)} true 空岗 at 15 min", flush=True)
    print()
    print(f"{frames} keyframes ({frames // args.scenes} per scene)")
    per_keyframe = {}
    for name, label in (("ours", "ours (motion + empty-seat model)"), ("mog2", "baseline (MOG2)")):
        t = totals[name]
        p, r = precision_recall(t["kf"][0], t["kf"][1], t["kf"][2])
        hp, hr = precision_recall(t["hyst"][0], t["hyst"][1], t["hyst"][2])
        ap, ar = precision_recall(*t["alarm"])
        per_keyframe[name] = t["cpu"] / frames
        print(f"{label}:")
        print(f"  seat empty per keyframe:     precision {p:.3f}  recall {r:.3f}")
        print(f"  after hysteresis:            precision {hp:.3f}  recall {hr:.3f}")
        tp, fp, fn = t["alarm"]
        print(
            f"  空岗 at 15 min:               precision {ap:.3f}  recall {ar:.3f}  ({tp} right, {fp} false, {fn} missed)"
        )
        print(
            f"  CPU per camera per keyframe: {per_keyframe[name] * 1e3:.3f} ms"
            f"  -> {5 / per_keyframe[name]:,.0f} cameras per core at one keyframe every 5 s"
        )
    print(f"CPU ratio ours / baseline: {per_keyframe['ours'] / per_keyframe['mog2']:.2f}")
    scaling = scaling_cost(picture)
    both = per_keyframe["ours"] + scaling
    print(
        f"ours with scaling the decoded {WIDTH}x{HEIGHT} keyframe to 320 wide ({scaling * 1e3:.3f} ms): "
        f"{both * 1e3:.3f} ms per keyframe -> {5 / both:,.0f} cameras per core at one keyframe every 5 s"
    )


def scaling_cost(picture: np.ndarray, rounds: int = 300) -> float:
    """Process time of video.presence.small on a decoded keyframe of the demo's size (yuv420p, as decoded)."""
    import av

    big = cv2.resize(picture, (WIDTH, HEIGHT))
    frame = av.VideoFrame.from_ndarray(big, format="bgr24").reformat(format="yuv420p")
    began = time.process_time()
    for _ in range(rounds):
        small(frame)
    return (time.process_time() - began) / rounds


def _count(cell: list[int], said_empty: bool, truly_empty: bool) -> None:
    """cell = [true positives, false positives, false negatives, true negatives] of 'seat empty'."""
    cell[0 if said_empty and truly_empty else 1 if said_empty else 2 if truly_empty else 3] += 1


def _stepper(decided: list[tuple[float, str]]):
    def state_at(at: float) -> str | None:
        state = None
        for since, s in decided:
            if since > at:
                break
            state = s
        return state

    return state_at


if __name__ == "__main__":
    main()
