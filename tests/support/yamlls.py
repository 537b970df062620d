"""The real yaml-language-server (npm), driven over the Language Server Protocol on stdio.

`install()` puts a pinned release into the test cache (``$LLMKUBE_TEST_CACHE``, beside the
kube-apiserver build; npm's own cache inside it too) once per machine; `YamlLanguageServer`
starts it with node, speaks JSON-RPC with Content-Length framing, answers the server's own
requests (workspace/configuration, capability registration) and collects its notifications.
Without node and npm the tests that need it skip with one reason; `.ci/run` installs them.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.kubeserver import KTS

#: 1.19.2 runs on node 20 (2.x wants node >= 22.13); it checks schemas as draft-07.
VERSION = "1.19.2"
PACKAGE = "yaml-language-server"


def missing_reason() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"no `{tool}` on the PATH: yaml-language-server needs node and npm (apt-get install nodejs npm)"
    return None


def install(cache: Path = KTS.DEFAULT_CACHE) -> Path:
    """The server's entry script, installed into the cache first if need be (once; a lock keeps xdist workers apart)."""
    home = cache / f"{PACKAGE}-{VERSION}"
    entry = home / "node_modules" / PACKAGE / "bin" / PACKAGE
    if entry.is_file():
        return entry
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{PACKAGE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if entry.is_file():
            return entry
        work = Path(tempfile.mkdtemp(prefix=f"{PACKAGE}-", dir=cache))
        env = {**os.environ, "npm_config_cache": str(cache / "npm-cache"), "npm_config_update_notifier": "false"}
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(work), f"{PACKAGE}@{VERSION}"],
            env=env, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise RuntimeError(f"npm install {PACKAGE}@{VERSION} failed:\n{done.stdout}\n{done.stderr}")
        work.rename(home)
    return entry


class YamlLanguageServer:
    """One server process; `request` waits for its answer, `notifications` collects what it sends."""

    def __init__(self, entry: Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.proc = subprocess.Popen(
            ["node", str(entry), "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self._next_id = 0
        self._answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.notifications: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    # ------------------------------------------------------------------ wire

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            message = json.loads(out.read(length))
            if "id" in message and "method" in message:
                self._answer_server(message)
            elif "id" in message:
                self._answers.setdefault(message["id"], queue.Queue()).put(message)
            else:
                self.notifications.put(message)

    def _answer_server(self, message: dict[str, Any]) -> None:
        """The server asks for its settings (one answer per section asked) and registers capabilities."""
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [self.settings.get(item.get("section", ""), None) for item in message["params"]["items"]]
        self._send({"id": message["id"], "result": result})

    # ------------------------------------------------------------------ protocol

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> Any:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        answers = self._answers.setdefault(ident, queue.Queue())
        self._send({"id": ident, "method": method, "params": params})
        answer = answers.get(timeout=timeout)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result")

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def initialize(self, root: Path) -> None:
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {
                    "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
                    "textDocument": {
                        "completion": {"completionItem": {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"]}},
                        "hover": {"contentFormat": ["markdown", "plaintext"]},
                        "publishDiagnostics": {},
                    },
                },
            },
        )
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        return uri

    def diagnostics(self, uri: str, timeout: float = 60, settle: float = 1.5) -> list[dict[str, Any]]:
        """The last diagnostics published for `uri` (the server may publish an empty list first, before its schema is read)."""
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] | None = None
        while time.monotonic() < deadline:
            try:
                message = self.notifications.get(timeout=settle if last is not None else max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                if last is not None:
                    return last
                continue
            if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                last = message["params"]["diagnostics"]
        if last is None:
            raise TimeoutError(f"no diagnostics for {uri} in {timeout} s")
        return last

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a server that will not stop is killed
            self.proc.kill()
            self.proc.wait()
