"""What one camera sends, as an installer needs to know it: ``supervise cameras probe ID``.

For the main stream and the substream (the row's own, or its vendor's when
opted in, :mod:`video.stream_urls`): the codec and profile, resolution, frame
rate and bit rate measured over a few seconds of packets, the audio track, and
the authentication the camera asks for. That last one is read from the
camera's answer to a DESCRIBE without credentials (``WWW-Authenticate``), on a
socket of our own with a timeout: FFmpeg answers the challenge but does not
say which it was. Nothing printed holds a password: URLs are shown redacted,
failures as :mod:`video.faults` reasons.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import av

from app.base.settings import VideoSettings
from video import faults, redact
from video.camera_worker import stream_options
from video.cameras import Camera


def probe(camera: Camera, config: VideoSettings, *, seconds: float = 3.0) -> dict:
    """What `camera` sends on its main stream and its substream (None without one)."""
    return {
        "camera_id": camera.camera_id,
        "window_id": camera.window_id,
        "main": probe_stream(camera.url, config, seconds=seconds),
        "substream": probe_stream(camera.substream_url, config, seconds=seconds) if camera.substream_url else None,
    }


def probe_stream(url: str, config: VideoSettings, *, seconds: float = 3.0) -> dict:
    found: dict = {"url": redact.safe_url(url), "auth": auth_method(url, config.open_timeout)}
    began = time.monotonic()
    opening = True
    try:
        with av.open(
            url, options=stream_options(url, config, audio=True), timeout=(config.open_timeout, config.read_timeout)
        ) as container:
            opening = False
            found.update(_streams(container))
            if container.streams.video:
                found.update(_measure(container, container.streams.video[0], seconds))
    except Exception as exc:
        fault = faults.classify(
            exc,
            opening=opening,
            open_timeout=config.open_timeout,
            read_timeout=config.read_timeout,
            elapsed=time.monotonic() - began,
        )
        found.update({"error": fault.reason, "reason_code": fault.code})
    return found


def _streams(container) -> dict:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    found: dict = {"codec": None, "audio": None}
    if video is not None:
        context = video.codec_context
        found.update(codec=context.name, profile=context.profile, width=context.width, height=context.height)
    if audio is not None:
        context = audio.codec_context
        found["audio"] = {"codec": context.name, "sample_rate": context.sample_rate, "channels": context.channels}
    return found


def _measure(container, stream, seconds: float) -> dict:
    """fps from the packets' timestamps, bit rate from their sizes, over `seconds` of stream."""
    first_pts = last_pts = None
    frames = size = keyframes = 0
    deadline = time.monotonic() + seconds + 5
    for packet in container.demux(stream):
        if not packet.size or packet.pts is None:
            continue
        pts = float(packet.pts * packet.time_base)
        first_pts = pts if first_pts is None else first_pts
        if pts - first_pts >= seconds or time.monotonic() > deadline:
            break
        last_pts, frames, size, keyframes = pts, frames + 1, size + packet.size, keyframes + packet.is_keyframe
    span = (last_pts - first_pts) if first_pts is not None and last_pts is not None else 0
    if span <= 0 or frames < 2:
        return {"fps": None, "bitrate": None}
    per_frame = span / (frames - 1)
    return {
        "fps": round(1 / per_frame, 1),
        "bitrate": round(size * 8 / (span + per_frame)),
        "keyframes_per_second": round(keyframes / (span + per_frame), 2),
    }


def auth_method(url: str, timeout: float) -> str | None:
    """``digest``, ``basic``, ``basic+digest`` (both offered), ``none``; None when the camera did not say."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or 554
    except ValueError:
        return None
    if parts.scheme.lower() != "rtsp" or not host:
        return None
    target = f"rtsp://{host}:{port}{parts.path or '/'}{'?' + parts.query if parts.query else ''}"
    request = f"DESCRIBE {target} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: supervise-probe\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as link:
            link.settimeout(timeout)
            link.sendall(request.encode())
            answer = b""
            while b"\r\n\r\n" not in answer and len(answer) < 65536:
                chunk = link.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    lines = answer.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or not status[0].startswith("RTSP/"):
        return None
    if status[1] == "200":
        return "none"
    offered = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "www-authenticate":
            scheme = value.strip().split(" ")[0].lower()
            if scheme in ("digest", "basic") and scheme not in offered:
                offered.append(scheme)
    return "+".join(sorted(offered)) if offered else None
