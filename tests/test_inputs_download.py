"""URL downloads against a local http.server on 127.0.0.1: total deadline, size limit, cut-short bodies, web pages.

Each misbehaving server route runs a bounded loop and stops as soon as the client hangs up; the server itself is
shut down at teardown. What is asserted is what the client did (its error, and how much the server had to send
before the client left), not how long anything took.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from modeling_t2l.cli import main
from modeling_t2l.pipelines.inputs import download_video
from modeling_t2l.processing.video_io import VideoDecodeError
from tests.test_pipeline import LABELS, model, pipe, processor  # noqa: F401  (fixtures)
from tests.test_pipeline_cli import workspace  # noqa: F401  (fixture)
from tests.video_factory import write_video

TRICKLE_CHUNK = 4096
TRICKLE_CHUNKS = 200  # 800 KiB at 16 KiB/s: 50 s if the client never gave up
HUGE_DECLARED = 2 * 1024**3
STREAM_LIMIT = 64 * 1024**2  # the zero-streaming routes give up after this much


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # close-delimited bodies: the "no Content-Length" routes end by closing
    video_bytes = b""
    sent = {}  # route -> bytes written before the client left or the loop ended

    def log_message(self, *args):
        pass

    def _start(self, content_type="video/mp4", length=None):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _stream(self, route, chunk, count, pause=0.0):
        written = 0
        try:
            for _ in range(count):
                self.wfile.write(chunk)
                self.wfile.flush()
                written += len(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: exactly what is tested
        finally:
            self.sent[route] = written

    def do_GET(self):
        if self.path == "/video.mp4":
            self._start(length=len(self.video_bytes))
            self.wfile.write(self.video_bytes)
        elif self.path == "/trickle.mp4":
            self._start(length=TRICKLE_CHUNK * TRICKLE_CHUNKS)
            self._stream("trickle", b"\0" * TRICKLE_CHUNK, TRICKLE_CHUNKS, pause=0.25)
        elif self.path == "/huge.mp4":  # declares 2 GiB and streams zeros
            self._start(length=HUGE_DECLARED)
            self._stream("huge", b"\0" * 65536, STREAM_LIMIT // 65536)
        elif self.path == "/endless.mp4":  # no Content-Length: only counting while streaming can stop it
            self._start()
            self._stream("endless", b"\0" * 65536, STREAM_LIMIT // 65536)
        elif self.path == "/truncated.mp4":  # promises the whole file, sends a third, closes
            self._start(length=len(self.video_bytes))
            self.wfile.write(self.video_bytes[: len(self.video_bytes) // 3])
        elif self.path == "/page.html":
            self._start("text/html; charset=utf-8")
            self.wfile.write(b"<!DOCTYPE html><html><body>Please log in</body></html>")
        elif self.path == "/disguised.mp4":  # a web page served as a binary download
            self._start("application/octet-stream")
            self.wfile.write(b"\n  <html><head><title>404</title></head></html>")
        else:
            self.send_error(404)


@pytest.fixture
def server(tmp_path):
    path = write_video(tmp_path / "video.mp4", num_frames=12)
    handler = type("Handler", (_Handler,), {"video_bytes": path.read_bytes(), "sent": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler, path
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _wait_for(handler, route):
    """The route's handler records what it sent once it notices the client left (bounded wait)."""
    for _ in range(200):
        if route in handler.sent:
            return handler.sent[route]
        time.sleep(0.05)
    raise AssertionError(f"the {route} route never finished")


def test_a_trickling_server_is_cut_off_at_the_total_deadline(server):
    base, handler, _ = server
    with pytest.raises(VideoDecodeError, match=r"trickle\.mp4.*longer than 1 s \(timeout\)"):
        download_video(f"{base}/trickle.mp4", timeout=1)
    # 16 KiB/s for 1 s: the client left after a small part of the 800 KiB the server would have sent
    assert _wait_for(handler, "trickle") < TRICKLE_CHUNK * TRICKLE_CHUNKS // 4


def test_a_declared_size_over_the_limit_is_refused_before_reading(server):
    base, handler, _ = server
    with pytest.raises(VideoDecodeError, match=r"huge\.mp4.*declares 2147483648 bytes.*limit of 1048576 bytes"):
        download_video(f"{base}/huge.mp4", max_bytes=1024**2)


def test_the_size_limit_is_enforced_while_streaming(server):
    base, handler, _ = server
    with pytest.raises(VideoDecodeError, match=r"endless\.mp4.*larger than the limit of 1048576 bytes"):
        download_video(f"{base}/endless.mp4", max_bytes=1024**2, timeout=10)
    assert _wait_for(handler, "endless") < STREAM_LIMIT


def test_a_body_cut_short_is_a_decode_error_naming_the_url(server):
    base, handler, path = server
    size = path.stat().st_size
    with pytest.raises(VideoDecodeError, match=rf"truncated\.mp4.*cut short: {size // 3} of {size} bytes"):
        download_video(f"{base}/truncated.mp4", timeout=5)


@pytest.mark.parametrize("route, reason", [("page.html", "sent text/html, not a video"),
                                           ("disguised.mp4", "text document")])
def test_a_web_page_is_not_a_video(server, route, reason):
    base, _, _ = server
    with pytest.raises(VideoDecodeError, match=rf"{route}.*{reason}"):
        download_video(f"{base}/{route}", timeout=5)


def test_network_failures_name_the_url(server):
    base, _, _ = server
    with pytest.raises(VideoDecodeError, match=r"missing\.mp4.*HTTP 404"):
        download_video(f"{base}/missing.mp4", timeout=5)
    with pytest.raises(VideoDecodeError, match=r"127\.0\.0\.1:1/x\.mp4.*download failed"):
        download_video("http://127.0.0.1:1/x.mp4", timeout=5)  # nothing listens on port 1


def test_pipeline_options_reach_the_download_and_errors_are_entries(pipe, server):
    base, _, path = server
    good = pipe(f"{base}/video.mp4", candidate_labels=LABELS, hypothesis_template="{}", timeout=5)
    assert good == pipe(str(path), candidate_labels=LABELS, hypothesis_template="{}")
    with pytest.raises(VideoDecodeError, match="limit of 1000 bytes"):
        pipe(f"{base}/video.mp4", candidate_labels=LABELS, max_download_bytes=1000)
    results = pipe([f"{base}/video.mp4", f"{base}/truncated.mp4", f"{base}/page.html"], candidate_labels=LABELS,
                   hypothesis_template="{}", timeout=5, on_error="return", batch_size=2)
    assert results[0] == good
    assert results[1]["input"] == f"{base}/truncated.mp4" and "cut short" in results[1]["error"]
    assert results[2]["input"] == f"{base}/page.html" and "not a video" in results[2]["error"]


def test_classify_prints_the_good_results_and_one_line_per_failed_url(workspace, server, capsys):
    root, videos, _ = workspace
    base, _, _ = server
    code = main(["classify", videos[0], f"{base}/truncated.mp4", f"{base}/trickle.mp4", videos[1],
                 "--model", str(root / "model"), "--labels", ",".join(LABELS), "--template", "{}",
                 "--download-timeout", "1", "--max-download-mb", "1", "--batch-size", "4"])
    captured = capsys.readouterr()
    assert code == 2
    printed = [line for line in captured.out.splitlines() if not line.startswith(" ")]
    assert printed == [videos[0], videos[1]]
    failures = [line for line in captured.err.splitlines() if line.startswith("t2l classify: cannot read")]
    assert len(failures) == 2
    assert "truncated.mp4" in failures[0] and "cut short" in failures[0]
    assert "trickle.mp4" in failures[1] and "timeout" in failures[1]
    assert np.isfinite([float(line.split()[0]) for line in captured.out.splitlines() if line.startswith(" ")]).all()
