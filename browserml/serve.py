"""A small static file server on 127.0.0.1 for TF.js pages.

Browsers will not ``fetch`` model shards from ``file://`` URLs, so an export page and
the Chromium checks need HTTP. This server maps URL prefixes to folders (the
project's ``node_modules`` for TF.js itself, an export folder for the model), serves
``.wasm`` with the MIME type that streaming compilation needs, binds to loopback
only, and refuses any path that climbs out of its folder.
"""

from __future__ import annotations

import contextlib
import http.server
import mimetypes
import posixpath
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path

MIME_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".cjs": "text/javascript",
              ".mjs": "text/javascript", ".json": "application/json", ".bin": "application/octet-stream"}


def _resolve(mounts: Mapping[str, Path], url_path: str) -> Path | None:
    """Map a URL path to a file inside one of the mounted folders, or ``None``."""
    path = posixpath.normpath(urllib.parse.unquote(urllib.parse.urlsplit(url_path).path))
    if url_path.endswith("/") and not path.endswith("/"):
        path += "/"
    for prefix in sorted(mounts, key=len, reverse=True):
        if path == prefix.rstrip("/") or path.startswith(prefix):
            root = mounts[prefix].resolve()
            rel = path[len(prefix):] if path.startswith(prefix) else ""
            target = (root / rel).resolve()
            if target != root and root not in target.parents:
                return None
            if target.is_dir():
                target = target / "index.html"
            return target if target.is_file() else None
    return None


def _handler_for(mounts: Mapping[str, Path]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            target = _resolve(mounts, self.path)
            if target is None:
                self.send_error(404, "not found")
                return
            body = target.read_bytes()
            ctype = MIME_TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read their own output
            pass

    return Handler


@contextlib.contextmanager
def serve(mounts: Mapping[str, str | Path], port: int = 0) -> Iterator[str]:
    """Serve ``{"/url/prefix/": folder}`` on 127.0.0.1 and yield the base URL.

    ``port=0`` picks a free port, so parallel tests never collide.
    """
    clean = {("/" + p.strip("/") + "/").replace("//", "/"): Path(f) for p, f in mounts.items()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler_for(clean))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
