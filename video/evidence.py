"""Evidence (证据): a still of a window, with the keyframes of the seconds before.

:func:`capture` decodes what a worker's keyframe ring holds at that instant:
the newest keyframe becomes the still, the older ones the context. Nothing is
decoded before someone asks. :func:`write` stores the pictures, the keyframes
as received (an H.264/H.265 elementary stream that any player opens) and a JSON
sidecar with SHA-256 sums, under ``<directory>/<camera_id>/<captured_at>/``.

Other processes (the web app) ask the worker that pulls the camera over Redis:
:func:`request` publishes an :class:`EvidenceRequest` and waits for the
:class:`EvidenceReply`; the camera pool answers it (:mod:`video.pool`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from app.base import camera_keys as keys
from video import keyframes
from video.keyframes import Keyframe

VERSION = 1
REPLY_TTL = 60


class Evidence(NamedTuple):
    jpeg: bytes  # the still: the newest keyframe
    keyframes: list[bytes]  # JPEGs of the keyframes before it, oldest first
    metadata: dict


class NoPicture(LookupError):
    """The camera has no decodable keyframe in memory (offline, or not pulled by this process)."""


def capture(
    camera,
    ring: list[Keyframe],
    captured_at: datetime,
    *,
    quality: int = 90,
    health: dict | None = None,
    still: Keyframe | None = None,
    source: str = "main",
) -> Evidence:
    """Evidence from `ring` (oldest first), taken at `captured_at`.

    `still`, when given, is the picture (a keyframe of the main stream, for a camera watched on its
    substream) and the whole ring its context; `source` says which stream the still came from."""
    pictures: list[tuple[Keyframe, bytes, int, int]] = []
    for keyframe in [*ring, *([still] if still is not None else [])]:
        frame = keyframes.decode(keyframe)
        if frame is not None:
            pictures.append((keyframe, keyframes.to_jpeg(frame, quality=quality), frame.width, frame.height))
    if not pictures:
        raise NoPicture(f"camera {camera.camera_id} has no decodable keyframe in memory")
    newest, jpeg, width, height = pictures[-1]
    metadata = {
        "version": VERSION,
        "camera_id": camera.camera_id,
        "window_id": camera.window_id,
        "window_label": camera.label,
        "captured_at": captured_at.isoformat(),
        "frame_at": _instant(newest.received_at),
        "width": width,
        "height": height,
        "codec": newest.codec,
        "source": source,
        "health": health,
        "keyframes": [
            {"received_at": _instant(k.received_at), "pts_seconds": k.pts_seconds} for k, *_ in pictures[:-1]
        ],
    }
    return Evidence(jpeg, [p[1] for p in pictures[:-1]], metadata)


def write(evidence: Evidence, directory: Path, *, original: list[Keyframe] = (), still: Keyframe | None = None) -> Path:
    """Store `evidence` under `directory`; returns the metadata file's path.

    `original`, the ring the evidence came from, is stored too, as the camera
    sent it: the JPEGs are re-encodings, these are the camera's own bits (and so
    is `still`, the main stream's keyframe, when it came from there). The
    sidecar names every file relative to its own folder, with its SHA-256.
    """
    metadata = json.loads(json.dumps(evidence.metadata))
    stamp = datetime.fromisoformat(metadata["captured_at"]).astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = Path(directory) / _safe(metadata["camera_id"]) / stamp
    folder.mkdir(parents=True, exist_ok=False)
    metadata["still"] = _put(folder / "still.jpg", evidence.jpeg)
    for entry, jpeg, n in zip(metadata["keyframes"], evidence.keyframes, range(1, 1000)):
        entry.update(_put(folder / f"keyframe-{n:02d}.jpg", jpeg))
    if original:
        stream = (original[-1].extradata or b"") + b"".join(k.data for k in original)
        metadata["stream"] = _put(folder / f"keyframes.{original[-1].codec}", stream)
    if still is not None:
        metadata["still_stream"] = _put(folder / f"still.{still.codec}", (still.extradata or b"") + still.data)
    sidecar = folder / "metadata.json"
    sidecar.write_text(json.dumps(metadata, ensure_ascii=False, indent=2))
    return sidecar


class EvidenceRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    request_id: str
    camera_id: str
    requested_by: str


class EvidenceReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    request_id: str
    camera_id: str
    ok: bool
    metadata_path: str | None = None  # the sidecar written by :func:`write`
    error: str | None = None


def request(redis, camera_id: str, requested_by: str, *, timeout: float = 10.0) -> EvidenceReply | None:
    """Ask the worker pulling `camera_id` for evidence; None if no worker answered within `timeout`."""
    ask = EvidenceRequest(request_id=uuid.uuid4().hex, camera_id=camera_id, requested_by=requested_by)
    if not redis.publish(keys.EVIDENCE_REQUESTS, ask.model_dump_json()):
        return None  # no worker listens
    answer = redis.blpop([keys.evidence_reply(ask.request_id)], timeout=timeout)
    return None if answer is None else EvidenceReply.model_validate_json(answer[1])


def reply(redis, answer: EvidenceReply) -> None:
    key = keys.evidence_reply(answer.request_id)
    pipe = redis.pipeline()
    pipe.rpush(key, answer.model_dump_json())
    pipe.expire(key, REPLY_TTL)
    pipe.execute()


def _put(path: Path, data: bytes) -> dict:
    path.write_bytes(data)
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _instant(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


def evidence_row(
    sidecar: Path,
    var_dir: Path,
    *,
    camera_id: str,
    window_id: str | None,
    captured_at: datetime,
    requested_by: str,
    case_no: str | None = None,
    alarm_id: int | None = None,
) -> dict:
    """The supervision database's `evidence` row for a sidecar written by :func:`write`;
    paths are kept relative to `var_dir` so the folder can move."""
    metadata = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    root = Path(var_dir).resolve()

    def relative(name: str) -> str:
        path = (Path(sidecar).parent / name).resolve()
        return str(path.relative_to(root)) if root in path.parents else str(path)

    return {
        "camera_id": camera_id,
        "window_id": window_id,
        "alarm_id": alarm_id,
        "case_no": case_no,
        "captured_at": captured_at,
        "frame_at": datetime.fromisoformat(metadata["frame_at"]) if metadata.get("frame_at") else None,
        "path": relative(metadata["still"]["file"]),
        "frames": [relative(k["file"]) for k in metadata.get("keyframes", []) if k.get("file")],
        "requested_by": requested_by,
    }
