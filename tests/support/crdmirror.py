"""A local mirror of the upstream CRD files, served over HTTP on 127.0.0.1 as GitHub's raw-file host lays
them out (`/{owner}/{repo}/{tag}/{path}`), so `llmkube crds pull` downloads for real
(`LLMKUBE_CRD_CATALOG_URL` points the catalog at it). Built from the upstream CRDs' SOURCES.md: each
row's file appears at its upstream repository, tag and path."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.support import crds


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@contextlib.contextmanager
def mirror(upstream_crds: Path, root: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, mirror root) while the server runs; stopped on exit."""
    for row in crds.source_rows():
        if row["file"].startswith("nvidia-examples/"):
            continue
        target = root / row["repo"] / row["tag"] / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(upstream_crds / row["file"])
    server, thread = serve(root)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
