import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_passes_with_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "STATICFILES_BACKEND"}}
    env.update(
        DEBUG="0",
        SECRET_KEY="prod-like-5f3b8e2a9c7d4e1f0a6b3c8d2e9f7a1b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6",
        ALLOWED_HOSTS="portal.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
