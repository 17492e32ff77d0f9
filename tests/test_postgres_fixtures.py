"""Without a reachable PostgreSQL the PostgreSQL cases skip and say why; with
HOUR_LEDGER_REQUIRE_POSTGRES=1 (CI) they fail instead. Proved by running pytest on a tiny
test file, with the test PostgreSQL URL pointing at a port nothing listens on."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.paths import PROJECT

CLOSED = "postgresql://postgres@127.0.0.1:1/postgres"

TINY_TEST = '''
def test_a_store(database_url):
    assert database_url.startswith(("sqlite:///", "postgresql://"))
'''


def run_pytest(directory: Path, require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOUR_LEDGER_", "PYTEST_"))}
    env["PYTHONPATH"] = str(PROJECT)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # hypothesis, schemathesis...: not needed, slow to load
    env["HOUR_LEDGER_TEST_POSTGRES_URL"] = CLOSED
    if require:
        env["HOUR_LEDGER_REQUIRE_POSTGRES"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-W", "ignore::pytest.PytestUnknownMarkWarning", str(directory / "test_tiny.py")],
        cwd=directory, env=env, capture_output=True, text=True, timeout=120,
    )


def test_postgres_cases_skip_with_the_reason_or_fail_when_required(tmp_path):
    (tmp_path / "test_tiny.py").write_text(TINY_TEST)

    with ThreadPoolExecutor(max_workers=2) as pool:
        optional, required = pool.map(lambda require: run_pytest(tmp_path, require), [False, True])

    assert optional.returncode == 0, optional.stdout + optional.stderr
    assert "1 passed, 1 skipped" in optional.stdout
    assert "SKIPPED [1]" in optional.stdout
    assert f"PostgreSQL at {CLOSED} is not reachable" in optional.stdout

    assert required.returncode == 1, required.stdout + required.stderr
    assert "1 passed, 1 error" in required.stdout
    assert "test_a_store[postgres]" in required.stdout
    assert f"HOUR_LEDGER_REQUIRE_POSTGRES=1 but PostgreSQL at {CLOSED} is not reachable" in required.stdout
