"""Camera passwords never leave this process: not in a log line, an exception
message, a health record, a Redis key or value, nor anything printed.

Camera URLs carry credentials (``rtsp://user:secret@10.1.2.3/stream1``), and
FFmpeg repeats the URL it was given in its own messages: PyAV's exceptions carry
it as ``filename`` and in the captured FFmpeg log lines, and ``repr()`` of a
container shows it. So everything that comes from PyAV/FFmpeg is redacted, and
so is every log record of the process once :func:`install` ran.

Two nets, applied in this order:

1. Known secrets. :func:`register_url` remembers a camera's password and
   ``user:password`` (also in base64, as an HTTP/RTSP Basic header carries it).
   Each is matched raw, percent-encoded (any case of hex digits, any mix of
   encoded and plain characters, ``+`` for a space) and with the backslash that
   ``repr()`` puts before quotes and backslashes: the text is first decoded to a
   canonical form (remembering where each character came from), then searched
   through an index of the secrets' first three characters, so that 6,000
   cameras' passwords cost a log line about as much as one.
2. Shapes that hold secrets whatever they are: the userinfo of any URL
   (``scheme://…@``), ``Authorization:`` header values and ``password=``-like
   query parameters.

Secrets shorter than :data:`MIN_SECRET_LENGTH` are only caught by the second
net: replacing every ``"12"`` in every log line would make the logs useless.
"""

from __future__ import annotations

import base64
import codecs
import logging
import re
import sys
import threading
import traceback
from urllib.parse import unquote, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 3

# Greedy up to the authority's last '@', so a raw '@' in a password is covered.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s'\"<>]*@")
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*\w+\s+)[^\s'\"]+")
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:password|passwd|pwd|pass|secret|token|auth|key)=)[^&\s'\"#]+")

_ESCAPED = {"\\": "\\", "'": "'", '"': '"', "/": "/"}  # what repr() and JSON put a backslash before

_lock = threading.Lock()
_secrets: set[str] = set()
_by_prefix: dict[str, list[str]] = {}  # first three characters -> secrets, longest first


def register_secret(secret: str | None) -> None:
    """Redact `secret` (and its encoded forms) from now on, everywhere in this process."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    variants = {secret, secret.replace(" ", "+")}  # form encoding writes a space as '+'
    with _lock:
        for variant in variants - _secrets:
            _secrets.add(variant)
            group = [*_by_prefix.get(variant[:MIN_SECRET_LENGTH], ()), variant]
            _by_prefix[variant[:MIN_SECRET_LENGTH]] = sorted(group, key=len, reverse=True)


def register_url(url: str | None) -> None:
    """Remember the credentials in `url` so that they are redacted from now on."""
    if not url:
        return
    # A URL with a raw '/' or '@' in its password is not a valid URL, and
    # parsers disagree about it: remember every reading, masking too much is harmless.
    readings = {_split_userinfo_by_hand(url)}
    try:
        parts = urlsplit(url)
        readings.add((parts.username, parts.password))
    except ValueError:
        pass
    for username, password in readings:
        if password is None:
            continue
        user, secret = unquote(username or ""), unquote(password)
        register_secret(secret)
        register_secret(password)  # as written, in case it is not valid percent-encoding
        register_secret(base64.b64encode(f"{user}:{secret}".encode()).decode())


def redact(text: object) -> str:
    """`text` as a string with every known secret and every credential-shaped part masked."""
    text = text if isinstance(text, str) else str(text)
    if _by_prefix:
        text = _mask_known(text)
    text = _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


def safe_url(url: str) -> str:
    """`url` fit for a log line or a page: ``rtsp://***@10.1.2.3:554/stream1``."""
    return redact(url)


def describe(exc: BaseException) -> str:
    """``"TypeName: message"`` of an exception, redacted (PyAV puts the URL in its messages)."""
    return redact(f"{type(exc).__name__}: {exc}")


class RedactingFilter(logging.Filter):
    """Rewrites a record so that its message, exception text and stack hold no secret.

    The record keeps no ``args`` and no ``exc_info`` afterwards (both could be
    formatted again elsewhere, unredacted): the rendered, redacted text is all
    that remains. Attach it to a handler or logger, or let :func:`install` apply
    it to every record of the process.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if getattr(record, "_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg!s} {record.args!s}"
    record.msg, record.args = redact(message), None
    if record.exc_info:
        if not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True
    return record


_installed = False
_previous = None


def install() -> None:
    """Redact every log record of this process, whoever logs it and wherever it goes.

    A record factory redacts each record as it is made, so handlers added later
    (pytest's capture, a syslog handler) never see a secret; FFmpeg's own log,
    when PyAV forwards it, arrives as records of the ``libav`` logger and is
    covered too. Uncaught exceptions, in the main thread or a worker thread,
    are printed redacted. Idempotent.
    """
    global _installed, _previous
    with _lock:
        if _installed:
            return
        _installed = True
    make_record = logging.getLogRecordFactory()
    _previous = (make_record, sys.excepthook, threading.excepthook)

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(make_record(*args, **kwargs))

    logging.setLogRecordFactory(redacting_factory)
    logging.getLogger("libav").addFilter(RedactingFilter())

    def excepthook(exc_type, exc, tb) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        sys.stderr.write(redact(f"Exception in thread {name}:\n{text}"))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def uninstall() -> None:
    """Undo :func:`install` (for tests that must leave the process as they found it)."""
    global _installed, _previous
    with _lock:
        if not _installed or _previous is None:
            return
        make_record, sys.excepthook, threading.excepthook = _previous
        logging.setLogRecordFactory(make_record)
        for existing in list(logging.getLogger("libav").filters):
            if isinstance(existing, RedactingFilter):
                logging.getLogger("libav").removeFilter(existing)
        _installed, _previous = False, None


def _mask_known(text: str) -> str:
    # Search the text as it is (a password may itself look like "%A3") and decoded.
    spans = _find(text, [], [])
    canon, starts, ends = _canonical(text)
    if starts:
        spans += _find(canon, starts, ends)
    if not spans:
        return text
    pieces, at = [], 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        pieces += [text[at : max(at, start)], MASK]
        at = end
    return "".join(pieces) + text[at:]


def _find(canon: str, starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    """Spans of the original text holding a known secret; `starts`/`ends` map `canon` back (empty: identity)."""
    index = _by_prefix
    found: list[tuple[int, int]] = []
    i, last = 0, len(canon) - MIN_SECRET_LENGTH
    while i <= last:
        for secret in index.get(canon[i : i + MIN_SECRET_LENGTH], ()):
            if canon.startswith(secret, i):
                end = i + len(secret)
                found.append((starts[i], ends[end - 1]) if starts else (i, end))
                i = end - 1
                break
        i += 1
    return found


def _canonical(text: str) -> tuple[str, list[int], list[int]]:
    """`text` with percent-encoding and backslash escapes decoded, and for each character of the
    result where it starts and ends in `text` (empty lists when nothing was decoded)."""
    if "%" not in text and "\\" not in text:
        return text, [], []
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and _hex_pair(text, i + 1):
            run_start, raw, offsets = i, bytearray(), []
            while i + 2 < n and text[i] == "%" and _hex_pair(text, i + 1):
                raw.append(int(text[i + 1 : i + 3], 16))
                offsets.append(i)
                i += 3
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            first = run_start
            for k, byte in enumerate(raw):
                for decoded in decoder.decode(bytes([byte])):
                    chars.append(decoded)
                    starts.append(first)
                    ends.append(offsets[k] + 3)
                    first = offsets[k] + 3
            continue
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPED:
            chars.append(_ESCAPED[text[i + 1]])
            starts.append(i)
            ends.append(i + 2)
            i += 2
            continue
        chars.append(ch)
        starts.append(i)
        ends.append(i + 1)
        i += 1
    return "".join(chars), starts, ends


def _hex_pair(text: str, at: int) -> bool:
    return at + 1 < len(text) and text[at] in _HEX and text[at + 1] in _HEX


_HEX = frozenset("0123456789abcdefABCDEF")


def _split_userinfo_by_hand(url: str) -> tuple[str | None, str | None]:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None, None
    rest = url[scheme_end + 3 :]
    at = rest.rfind("@")
    if at < 0:
        return None, None
    userinfo = rest[:at]
    user, sep, password = userinfo.partition(":")
    return user, (password if sep else None)
