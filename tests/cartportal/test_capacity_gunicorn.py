"""The real web server (gunicorn with gunicorn.conf.py serving cartportal.wsgi) sheds load: with its one Django
slot held by a request whose body has not arrived yet, the next page is answered 503 with Retry-After, /healthz
(which reads the database) still answers 200, and once the held request ends pages are served again."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        conn.close()


@pytest.fixture
def server(db, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_NAME_OVERRIDE": connection.settings_dict["NAME"],
        "CARTPORTAL_DB_AS_OWNER": "0",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-secret-key-for-the-capacity-test-0123456789",
        "GUNICORN_WORKERS": "1",
        "CARTPORTAL_WEB_SLOTS": "1",
        "CARTPORTAL_WEB_SLOT_WAIT_SECONDS": "1",
        "CARTPORTAL_WEB_RETRY_AFTER_SECONDS": "7",
    }
    log = open(tmp_path / "gunicorn.log", "wb")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if get(port, "/healthz")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
        time.sleep(0.2)
    yield port
    proc.terminate()
    proc.wait(30)


def test_a_saturated_server_answers_503_with_retry_after_and_still_serves_healthz(server):
    port = server
    held = socket.create_connection(("127.0.0.1", port))
    body = b"username=nobody&password=wrong"
    held.sendall(
        b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:5]
    )  # Django waits for the rest of the form inside its only slot

    deadline = time.monotonic() + 60
    status, headers = get(port, "/accounts/login/")
    while status != 503 and time.monotonic() < deadline:  # until the held request has the slot
        status, headers = get(port, "/accounts/login/")

    assert status == 503
    assert headers["Retry-After"] == "7"
    assert get(port, "/healthz")[0] == 200

    held.sendall(body[5:])
    held.settimeout(30)
    answer = held.recv(200)
    held.close()
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 503")
    assert get(port, "/accounts/login/")[0] == 200
