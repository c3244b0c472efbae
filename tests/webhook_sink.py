"""A real local HTTP server in a thread that records the webhooks it receives."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookSink:
    """Answers POSTs with `status` (default 200), or redirects paths listed in `redirects`."""

    def __init__(self, port: int = 0):
        self.received: list[dict] = []
        self.status = 200
        self.answer = b"ok"
        self.redirects: dict[str, str] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path in sink.redirects:
                    self.send_response(307)
                    self.send_header("Location", sink.redirects[self.path])
                    self.end_headers()
                    return
                with sink._lock:
                    sink.received.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "host": self.headers.get("Host"),
                            "body": json.loads(raw or b"null"),
                            "at": time.time(),
                        }
                    )
                self.send_response(sink.status)
                self.end_headers()
                self.wfile.write(sink.answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path: str | None = None) -> list:
        with self._lock:
            return [r["body"] for r in self.received if path is None or r["path"] == path]
