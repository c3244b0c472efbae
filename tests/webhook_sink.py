"""A real local HTTP server in a thread that records the webhooks it receives.

Besides answering at once, it can behave like the receivers that hurt a sender: one that
`hold`s the answer (hangs until released, or for at most `hold_seconds`), and one that
`trickle`s its answer one byte every few seconds.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _json(raw: bytes):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


class WebhookSink:
    """Answers POSTs with `status` (default 200; per path in `statuses`) and `answer`, or
    redirects paths listed in `redirects`. A body that is not JSON (a form, plain text) is
    recorded raw, with `body` None.

    Paths in `hold` wait for `release` (at most `hold_seconds`) before answering; paths in
    `trickle` answer one header byte every `trickle_every` seconds for `trickle_for` seconds.
    Each request is recorded (path, headers, raw body) as soon as its body has arrived.
    """

    def __init__(self, port: int = 0):
        self.received: list[dict] = []
        self.status = 200
        self.statuses: dict[str, int] = {}
        self.answer = b"ok"
        self.redirects: dict[str, str] = {}
        self.hold: set[str] = set()
        self.hold_seconds = 10.0
        self.release = threading.Event()
        self.holding = threading.Event()  # set while a held request waits
        self.trickle: set[str] = set()
        self.trickle_every = 3.0
        self.trickle_for = 60.0
        self.trickles_cut: list[dict] = []  # {"path", "at"}: the sender hung up mid-trickle
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path in sink.redirects:
                    self.send_response(307)
                    self.send_header("Location", sink.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with sink._lock:
                    sink.received.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "host": self.headers.get("Host"),
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "raw": raw.decode(),
                            "body": _json(raw),
                            "at": time.time(),
                        }
                    )
                if self.path in sink.trickle:
                    self._trickle()
                    return
                if self.path in sink.hold:
                    sink.holding.set()
                    sink.release.wait(sink.hold_seconds)
                    sink.holding.clear()
                self.send_response(sink.statuses.get(self.path, sink.status))
                self.send_header("Content-Length", str(len(sink.answer)))
                self.end_headers()
                self.wfile.write(sink.answer)

            def _trickle(self):
                """A status line, then one byte of a header that never ends, every few seconds."""
                stop_at = time.monotonic() + sink.trickle_for
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    self.wfile.flush()
                    while time.monotonic() < stop_at:
                        # The receiver's own pace (what is under test), not a wait in a test.
                        if sink.release.wait(sink.trickle_every):
                            break
                        self.wfile.write(b"a")
                        self.wfile.flush()
                except OSError:
                    with sink._lock:
                        sink.trickles_cut.append({"path": self.path, "at": time.time()})
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path: str | None = None) -> list:
        with self._lock:
            return [r["body"] for r in self.received if path is None or r["path"] == path]

    def requests(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.received if path is None or r["path"] == path]
