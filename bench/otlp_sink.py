"""An OTLP/HTTP collector stub that drops what it is sent: the traced server's
export costs what it costs, and nothing is kept. A child process of the
benchmark driver (``python -m bench.otlp_sink``), so that receiving spans
takes no time from the driver's load generator; ``GET /`` answers how many
export requests and bytes it has dropped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_count = {"requests": 0, "bytes": 0}
_lock = threading.Lock()


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", 0))
        self.rfile.read(size)
        with _lock:
            _count["requests"] += 1
            _count["bytes"] += size
        # An empty body is an empty ExportTraceServiceResponse: all accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_count).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def start_sink() -> tuple[subprocess.Popen[bytes], str]:
    """A sink in a child process, and its URL (wait for it to answer; stop it
    with ``bench.serving.stop``)."""
    from bench.serving import ROOT, free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.otlp_sink", str(port)],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Sink).serve_forever()


if __name__ == "__main__":
    main()
