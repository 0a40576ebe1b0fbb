#!/usr/bin/env python3
"""The test topology's backends: plain HTTP servers that say who they are.

usage: backends.py ID=ADDRESS:PORT...

Each answers every GET with `backend=<ID>`, so a check can tell which backend a region's
proxy picked. Runs until killed.
"""

import http.server
import sys
import threading


def serve(backend_id: str, host: str, port: int) -> http.server.ThreadingHTTPServer:
    body = f"backend={backend_id}\n".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for spec in sys.argv[1:]:
        backend_id, _, address = spec.partition("=")
        host, _, port = address.rpartition(":")
        serve(backend_id, host, int(port))
    print("backends: serving", " ".join(sys.argv[1:]), flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
