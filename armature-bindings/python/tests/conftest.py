from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent

# The concurrency test holds 1,000 connections open at both ends (servers inherit this).
try:
    import resource

    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _want = 4096 if _hard == resource.RLIM_INFINITY else min(4096, _hard)
    if _soft != resource.RLIM_INFINITY and _soft < _want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_want, _hard))
except (ImportError, ValueError, OSError):
    pass
sys.path.insert(0, str(HERE))


class Server:
    """`tests/apps.py` (or another `script` that ends in `apps.serve(app)`) in a subprocess,
    on a free port, logging to files.

    The log files live under pytest's base temporary directory (`log_root`, set for the
    session below), which pytest prunes to the last few runs, so they can be read after a
    failure and do not pile up in /tmp.
    """

    log_root: Path | None = None

    def __init__(self, *args: str, script: Path = HERE / "apps.py") -> None:
        self.dir = tempfile.mkdtemp(prefix="server-", dir=self.log_root)
        self.stdout_path = os.path.join(self.dir, "stdout")
        self.stderr_path = os.path.join(self.dir, "stderr")
        env = {**os.environ, "ARMATURE_LOG": "info", "PYTHONUNBUFFERED": "1"}
        # The child writes through its own copies of the descriptors.
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), "--port", "0", *args],
                stdout=out,
                stderr=err,
                env=env,
            )
        deadline = time.monotonic() + 30
        while True:
            match = re.search(r"serving on (http://\S+)", self.stdout())
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.stdout()}\n{self.stderr()}")
            time.sleep(0.05)

    def stdout(self) -> str:
        return Path(self.stdout_path).read_text()

    def stderr(self) -> str:
        return Path(self.stderr_path).read_text()

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="session", autouse=True)
def _server_logs(tmp_path_factory: pytest.TempPathFactory) -> None:
    Server.log_root = tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()
