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
   ``repr()`` puts before quotes and backslashes.
2. Shapes that hold secrets whatever they are: the userinfo of any URL
   (``scheme://…@``), ``Authorization:`` header values and ``password=``-like
   query parameters.

Secrets shorter than :data:`MIN_SECRET_LENGTH` are only caught by the second
net: replacing every ``"12"`` in every log line would make the logs useless.
"""
from __future__ import annotations

import base64
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

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(secret: str | None) -> None:
    """Redact `secret` (and its encoded forms) from now on, everywhere in this process."""
    global _secret_pattern
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        # Longest first, so a secret that contains another is masked whole.
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(_encoded_forms(s) for s in alternatives))


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
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
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


def _encoded_forms(secret: str) -> str:
    """A regex matching `secret` raw, percent-encoded in any mix and any hex case, or repr-escaped."""
    return "".join(_char_forms(ch) for ch in secret)


def _char_forms(ch: str) -> str:
    # Longer forms first: for '%' the raw form would otherwise match the start of '%25'.
    forms = ["".join("%" + "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{b:02X}")
                     for b in ch.encode("utf-8"))]
    if ch in "\\'\"":
        forms.append(re.escape("\\" + ch))
    if ch == " ":
        forms.append(r"\+")
    forms.append(re.escape(ch))
    return "(?:" + "|".join(forms) + ")"


def _split_userinfo_by_hand(url: str) -> tuple[str | None, str | None]:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None, None
    rest = url[scheme_end + 3:]
    at = rest.rfind("@")
    if at < 0:
        return None, None
    userinfo = rest[:at]
    user, sep, password = userinfo.partition(":")
    return user, (password if sep else None)
