"""A real HTTP server for ingestion tests: the project's WSGI app on a threaded server.

Django's live server listens with a backlog of 10, which 40 simultaneous connects overflow;
this one keeps 128. Each request runs in its own thread with its own database connection.
"""

import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _Server(ThreadedWSGIServer):
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server_url(transactional_db):
    server = _Server(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
