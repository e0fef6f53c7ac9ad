"""Camera passwords never leave the process: every form FFmpeg, Python or a header may print."""

from __future__ import annotations

import base64
import logging
import threading
from urllib.parse import quote

import pytest

from video import redact
from video.cameras import Camera

PASSWORD = "p@ss:w/rd%"
URL = f"rtsp://admin:{quote(PASSWORD, safe='')}@10.1.2.3:554/stream1"


@pytest.fixture(autouse=True)
def _known_camera():
    Camera("K1", "W1", URL)  # creating a camera registers its password


@pytest.mark.parametrize(
    "text",
    [
        URL,  # as configured
        f"rtsp://admin:{PASSWORD}@10.1.2.3:554/stream1",  # raw, not even a valid URL
        "p%40ss%3aw%2frd%25",  # lower-case hex
        "p%40ss%3Aw%2Frd%25",  # upper-case hex
        "p%40ss:w%2Frd%",  # partly encoded
        "p@ss%3Aw/rd%25",  # partly encoded the other way
        repr(URL),  # PyAV's repr of a container, the filename in its exceptions
        f"Authorization: Basic {base64.b64encode(f'admin:{PASSWORD}'.encode()).decode()}",  # FFmpeg's trace of a request
        f"Server returned 401 Unauthorized (authorization failed): '{URL}'",  # str() of av.error.HTTPUnauthorizedError
    ],
)
def test_password_is_masked_in_every_form(text):
    masked = redact.redact(text)
    assert PASSWORD not in masked
    assert "p%40ss" not in masked.lower()
    assert "rd%25" not in masked.lower()


@pytest.mark.parametrize(
    "text, expected",
    [
        # userinfo of any URL goes, even one whose password was never registered
        ("rtsp://u:unknown-secret@10.0.0.9/live", "rtsp://***@10.0.0.9/live"),
        # a URL without credentials is left alone: operators need host and path
        ("rtsp://10.0.0.9:554/live", "rtsp://10.0.0.9:554/live"),
        ("tcp://127.0.0.1:18555?timeout=3000000 failed", "tcp://127.0.0.1:18555?timeout=3000000 failed"),
        # credentials in a query string
        ("http://cam/snap.jpg?user=a&password=zz9&x=1", "http://cam/snap.jpg?user=a&password=***&x=1"),
    ],
)
def test_credential_shapes_are_masked_whatever_the_secret(text, expected):
    assert redact.redact(text) == expected


def test_short_passwords_are_not_masked_everywhere():
    # a one-character password must not blank every '1' of every log line; its URL is still masked
    Camera("K2", "W2", "rtsp://admin:1@10.1.2.4/s")
    assert redact.redact("camera 11 at rtsp://admin:1@10.1.2.4/s") == "camera 11 at rtsp://***@10.1.2.4/s"


def test_camera_repr_hides_its_url():
    assert PASSWORD not in repr(Camera("K1", "W1", URL))
    assert "***@10.1.2.3" in repr(Camera("K1", "W1", URL))


def test_filter_redacts_message_arguments_and_exception(caplog):
    logger = logging.getLogger("test.redact")
    logger.addFilter(redact.RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="test.redact"):
            logger.info("opening %s", URL)
            try:
                raise ValueError(f"bad url {URL}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "opening rtsp://***@10.1.2.3" in text
    assert "ValueError: bad url" in text
    assert PASSWORD not in text and "p%40ss" not in text


def test_install_covers_every_logger_ffmpeg_and_threads(caplog, capsys):
    redact.install()
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("libav.rtsp").error("method DESCRIBE failed for %s", URL)
            logging.getLogger("anything.else").warning(URL)
        thread = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError(URL)), name="video.capture:K1")
        thread.start()
        thread.join()
    finally:
        redact.uninstall()
    captured = capsys.readouterr()
    text = caplog.text + captured.err + captured.out
    assert "method DESCRIBE failed for rtsp://***@" in text
    assert "Exception in thread video.capture:K1" in captured.err
    assert PASSWORD not in text and "p%40ss" not in text.lower()


def test_password_that_looks_percent_encoded():
    # '%A3' here is three characters of the password, not an encoded byte
    raw = "XR1%A3cC"
    Camera("K3", "W3", f"rtsp://admin:{quote(raw, safe='')}@10.1.2.5/s")
    for form in (raw, quote(raw, safe=""), "XR1%25A3%63C"):
        assert redact.redact(f"x {form} y") == "x *** y"


def test_thousands_of_cameras_each_with_its_own_password():
    import random
    import string
    import time
    from urllib.parse import unquote, urlsplit

    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "@:/%! 中"
    cameras = [
        Camera(f"M{n}", "W", f"rtsp://admin:{quote(''.join(rng.choices(alphabet, k=12)), safe='')}@10.9.0.1/s")
        for n in range(3000)
    ]
    for camera in cameras[::50]:
        password = unquote(urlsplit(camera.url).password)
        for form in (password, quote(password, safe=""), quote(password, safe="").lower(), repr(password)):
            assert password not in redact.redact(f"failed: {form} at 10.9.0.1")
    line = "camera M123 offline: timeout: no data for 5 s (camera hung) rtsp://***@10.9.0.1/s " * 3
    started = time.perf_counter()
    for _ in range(100):
        redact.redact(line)
    assert (time.perf_counter() - started) / 100 < 0.02  # a log line stays cheap (about 0.1 ms here)
