"""Fixtures: a labelhook server, a webhook receiver, and an SDK client.

Environment:
  LABELHOOK_BIN                 labelhook binary (default: <repo>/target/debug/labelhook)
  LABELHOOK_TEST_DATABASE_URL   passed as --db instead of a fresh SQLite file
  LABELHOOK_REFERENCE_DIR       shared/reference/label-studio-1.23.2 (found automatically)
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import pathlib
import re
import secrets
import subprocess
import threading
import time
import typing
import uuid

import pytest
import requests

from compat_helpers import LABEL_CONFIG, Recorder, make_client, strip_ansi

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "labelhook"
START_DEADLINE = 30.0
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


# --------------------------------------------------------------------------- server


@dataclasses.dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen
    output: list  # lines printed so far (stdout and stderr together)

    def log_tail(self, lines: int = 60) -> str:
        return "".join(self.output[-lines:])

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """A direct request with the admin token (for what the SDK does not cover)."""
        headers = kwargs.pop("headers", {})
        headers.setdefault("Authorization", f"Token {self.token}")
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> typing.Iterator[Server]:
    binary = os.environ.get("LABELHOOK_BIN") or str(DEFAULT_BIN)
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        pytest.fail(f"labelhook binary not found or not executable: {binary} "
                    "(build it, or set LABELHOOK_BIN)", pytrace=False)

    tmp = tmp_path_factory.mktemp("labelhook")
    db = os.environ.get("LABELHOOK_TEST_DATABASE_URL") or f"sqlite://{tmp}/lh.db"
    token = secrets.token_hex(20)
    env = dict(os.environ)
    env.update({
        "LABELHOOK_ADMIN_TOKEN": token,
        "SSRF_PROTECTION_ENABLED": "false",
        "WEBHOOK_TIMEOUT": "5",
        "NO_COLOR": "1",
    })
    command = [binary, "serve", "--bind", "127.0.0.1:0", "--db", db]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, text=True, bufsize=1, errors="replace",
    )
    output: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        # Keeps draining the pipe for the server's whole life so it never blocks on a log line.
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if len(output) > 5000:
                del output[:1000]
            if not ready.is_set():
                match = LISTENING.search(strip_ansi(line))
                if match:
                    found["url"] = match.group(1)
                    ready.set()
        ready.set()  # EOF: the process is gone

    reader = threading.Thread(target=pump, name="labelhook-output", daemon=True)
    reader.start()

    deadline = time.monotonic() + START_DEADLINE
    while not ready.is_set() and time.monotonic() < deadline:
        ready.wait(0.1)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        reader.join(timeout=5)

    if "url" not in found:
        stop()
        pytest.fail(
            f"`{' '.join(command)}` did not print 'listening on http://127.0.0.1:PORT' "
            f"within {START_DEADLINE:.0f}s (exit code {process.returncode}); output:\n"
            + "".join(output[-80:]),
            pytrace=False,
        )

    try:
        yield Server(url=found["url"], token=token, process=process, output=output)
    finally:
        stop()


# --------------------------------------------------------------------------- receiver


@dataclasses.dataclass
class Delivery:
    path: str
    headers: dict          # lower-cased names
    raw: bytes
    json: typing.Any       # None when the body is not JSON
    received_at: float

    @property
    def action(self) -> typing.Optional[str]:
        return self.json.get("action") if isinstance(self.json, dict) else None


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_path(self, prefix: str) -> str:
        return f"/{prefix}-{uuid.uuid4().hex[:10]}"

    def at(self, path: str) -> list[Delivery]:
        """Deliveries to `path`, one per webhook-id (duplicates of a retried delivery dropped)."""
        with self.lock:
            items = [d for d in self.deliveries if d.path == path]
        seen, unique = set(), []
        for item in items:
            key = item.headers.get("webhook-id") or id(item)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique

    def actions_at(self, path: str) -> list[str]:
        return [d.action for d in self.at(path)]


def _handler(receiver: Receiver):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            with receiver.lock:
                receiver.deliveries.append(Delivery(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=raw, json=body, received_at=time.time(),
                ))
            self._answer({"ok": True, "model_version": "compat"})

        def do_GET(self) -> None:  # noqa: N802  (an ML backend's /health, if anyone asks)
            self._answer({"status": "UP", "model_class": "Compat"})

        def _answer(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def receiver() -> typing.Iterator[Receiver]:
    rec = Receiver()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    httpd.daemon_threads = True
    rec.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- SDK client


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="session")
def ls(server, recorder):
    return make_client(server.url, server.token, recorder)


@pytest.fixture
def make_project(ls, server):
    """Creates projects through the SDK and deletes whatever is left at teardown."""
    created: list[int] = []

    def create(title: str = "compat", **kwargs):
        kwargs.setdefault("label_config", LABEL_CONFIG)
        project = ls.projects.create(title=f"{title} {uuid.uuid4().hex[:6]}", **kwargs)
        created.append(project.id)
        return project

    yield create
    for pid in created:
        server.api("DELETE", f"/api/projects/{pid}/")


@pytest.fixture
def cleanup_webhooks(server):
    """Webhook ids appended here are deleted at teardown."""
    ids: list[int] = []
    yield ids
    for wid in ids:
        server.api("DELETE", f"/api/webhooks/{wid}/")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of the server's output to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "server" in getattr(item, "funcargs", {}):
        srv = item.funcargs["server"]
        report.sections.append(("labelhook output (tail)", srv.log_tail()))
