"""Why a camera gives no picture, in words a person can read, and how bad it is.

``offline``: the network or the camera is down (refused, timeout, stream
ended); it will likely come back by itself, so retry soon. ``error``: the
configuration is wrong (401: user or password, 404: stream path, an
undecodable stream); retrying fast would not help and some cameras lock an
account after repeated failed logins, so retry slowly.

The classification reads only the exception's type and errno, never its
message: PyAV/FFmpeg messages repeat the camera URL, password included.
"""

from __future__ import annotations

import errno
from typing import NamedTuple

import av

from video.health import CameraState


class Fault(NamedTuple):
    state: CameraState
    code: str
    reason: str


def _offline(code: str, reason: str) -> Fault:
    return Fault(CameraState.OFFLINE, code, reason)


def _error(code: str, reason: str) -> Fault:
    return Fault(CameraState.ERROR, code, reason)


ENDED = _offline("ended", "stream ended: the camera closed the connection")
NO_VIDEO = _error("no_video", "the stream has no video track")
UNDECODABLE = _error("undecodable", "undecodable stream: keyframes fail to decode")

_BY_TYPE: list[tuple[type[BaseException], Fault]] = [
    (av.error.HTTPUnauthorizedError, _error("unauthorized", "401 unauthorized: user name or password rejected")),
    (av.error.HTTPForbiddenError, _error("forbidden", "403 forbidden: this user may not view the stream")),
    (av.error.HTTPNotFoundError, _error("not_found", "404 not found: no such stream path on the camera")),
    (av.error.HTTPClientError, _error("rejected", "the camera rejected the request (4xx)")),
    (av.error.HTTPServerError, _offline("camera_failure", "the camera reported an internal error (5xx)")),
    (av.error.ConnectionRefusedError, _offline("refused", "connection refused: nothing listens on the camera's port")),
    (av.error.ConnectionResetError, _offline("reset", "connection reset by the camera")),
    (av.error.ConnectionAbortedError, _offline("reset", "connection aborted")),
    (av.error.BrokenPipeError, _offline("reset", "connection broken")),
    (av.error.EOFError, ENDED),
    # FFmpeg's RTSP demuxer returns a bare -1 (EPERM) when an interleaved read comes up short.
    (av.error.PermissionError, _offline("reset", "connection lost while reading")),
    (
        av.error.InvalidDataError,
        UNDECODABLE._replace(reason="undecodable stream: the camera sent data FFmpeg cannot parse"),
    ),
    (av.error.DecoderNotFoundError, _error("undecodable", "undecodable stream: no decoder for its codec")),
    (av.error.ProtocolNotFoundError, _error("bad_url", "unsupported URL scheme")),
]

_BY_ERRNO = {
    errno.EHOSTUNREACH: _offline("unreachable", "host unreachable"),
    errno.ENETUNREACH: _offline("unreachable", "network unreachable"),
    errno.EIO: _offline("network", "network error (host unknown or unreachable)"),
    errno.ECONNREFUSED: _offline("refused", "connection refused: nothing listens on the camera's port"),
    errno.ECONNRESET: _offline("reset", "connection reset by the camera"),
}


BAD_REPLY = _offline("bad_reply", "no valid RTSP answer: the camera closed the connection or speaks another protocol")


def classify(
    exc: BaseException, *, opening: bool, open_timeout: float, read_timeout: float, elapsed: float = 0.0
) -> Fault:
    """The fault behind `exc`, raised while opening (connect, DESCRIBE, SETUP, PLAY) or reading,
    `elapsed` seconds after the attempt began."""
    timed_out = _offline(
        "timeout",
        f"timeout: no answer within {open_timeout:g} s"
        if opening
        else f"timeout: no data for {read_timeout:g} s (camera hung)",
    )
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        return timed_out
    if opening and isinstance(exc, av.error.InvalidDataError):
        # FFmpeg's RTSP handshake reports a silent peer, a closed connection and a
        # garbled reply all as "invalid data": only the time taken tells them apart.
        return timed_out if elapsed >= 0.9 * open_timeout else BAD_REPLY
    for kind, fault in _BY_TYPE:
        if isinstance(exc, kind):
            return fault
    number = getattr(exc, "errno", None)
    if number in _BY_ERRNO:
        return _BY_ERRNO[number]
    return _offline("unexpected", f"unexpected failure ({type(exc).__name__})")
