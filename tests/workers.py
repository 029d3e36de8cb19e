"""A real Celery worker for tests: a separate process, as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(self, concurrency: int = 1, extra_env: dict[str, str] | None = None):
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / ".data" / f"test-worker-{os.getpid()}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_NAME_OVERRIDE"] = connection.settings_dict["NAME"]
        env["CARTPORTAL_DB_AS_OWNER"] = "0"
        env["CELERY_TASK_DEFAULT_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cartportal",
                "worker",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "-c",
                str(self.concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}")
            with open(self.log_path, "rb") as handle:
                handle.seek(self._log_offset)
                started = b"ready." in handle.read()
            if started:
                return
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready after {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its pool children), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
