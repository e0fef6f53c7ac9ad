"""The URLs a camera is pulled with: credentials made safe for FFmpeg, and vendors' substreams.

Installers type passwords as the camera's web page shows them, so a cameras
row may hold ``rtsp://admin:Ab@1:x/9#%@10.1.2.3/Streaming/Channels/101``.
Such a URL is not a URL: ``#`` starts a fragment, ``/`` the path, the first
``@`` ends nothing. :func:`with_encoded_credentials` finds the host (the last
``@`` that a host and a path follow), and percent-encodes the user and the
password unless they are validly encoded already. FFmpeg decodes them again
before answering a Basic or Digest challenge, so both authentications see
the password as typed. A raw password that happens to read as valid
percent-encoding (``ab%41``) is taken as encoded: write it ``ab%2541``.

The substream of a Hikvision or Dahua camera is found by a known pattern of
its main URL (:func:`vendor_substream`). It is never guessed silently: a
camera gets one only when its row asks for a vendor or the setting
``SUPERVISE_CAMERA_SUBSTREAM_VENDOR`` does (:mod:`video.cameras`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

# host (name, IPv4 or [IPv6]) with an optional port, then the path or the query; else the end
_HOST = r"(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d+)?"
_HOST_THEN_PATH = re.compile(_HOST + r"[/?]")
_HOST_THEN_END = re.compile(_HOST + r"$")
_ENCODED = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")

VENDORS = ("hikvision", "dahua")


def split_credentials(url: str) -> tuple[str, str | None, str | None, str]:
    """(``scheme://``, user, password, rest from the host on) of `url`, as written; user None without any."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return "", None, None, url
    head, rest = url[: scheme_end + 3], url[scheme_end + 3 :]
    at = _last_at_before(rest, _HOST_THEN_PATH)
    if at < 0:
        at = _last_at_before(rest, _HOST_THEN_END)
    if at < 0:
        return head, None, None, rest
    user, sep, password = rest[:at].partition(":")
    return head, user, (password if sep else None), rest[at + 1 :]


def _last_at_before(rest: str, host: re.Pattern) -> int:
    at = rest.rfind("@")
    while at >= 0 and not host.match(rest, at + 1):
        at = rest.rfind("@", 0, at)
    return at


def with_encoded_credentials(url: str) -> str:
    """`url` with its user and password percent-encoded (those already validly encoded are kept)."""
    head, user, password, rest = split_credentials(url)
    if user is None:
        return url
    userinfo = _encoded(user) + ("" if password is None else ":" + _encoded(password))
    return f"{head}{userinfo}@{rest}"


def without_credentials(url: str) -> str:
    """`url` without user and password: what a person may see of it."""
    head, _, _, rest = split_credentials(url)
    return head + rest


def _encoded(part: str) -> str:
    return part if _ENCODED.fullmatch(part) else quote(part, safe="")


def vendor_substream(url: str, vendor: str) -> str | None:
    """The substream URL of a `vendor` camera whose main stream is `url`, or None if `url` has not
    the vendor's main-stream pattern.

    Hikvision: ``/Streaming/Channels/101`` (channel 1, stream 1) → ``…/102``;
    Dahua: ``cam/realmonitor?channel=1&subtype=0`` → ``subtype=1``.
    """
    head, user, password, rest = split_credentials(url)
    if vendor == "hikvision":
        found = re.search(r"(?i)(/Streaming/Channels/\d*?)01(?=$|[/?])", rest)
        if found is None:
            return None
        rest = rest[: found.end(1)] + "02" + rest[found.end() :]
    elif vendor == "dahua":
        found = re.search(r"(?i)([?&]subtype=)0(?=$|&)", rest)
        if found is None or "realmonitor" not in rest.lower():
            return None
        rest = rest[: found.end(1)] + "1" + rest[found.end() :]
    else:
        raise ValueError(f"unknown camera vendor {vendor!r}: one of {', '.join(VENDORS)}")
    userinfo = "" if user is None else user + ("" if password is None else ":" + password) + "@"
    return head + userinfo + rest
