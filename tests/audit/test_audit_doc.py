"""The standalone verifier printed in docs/audit.md is short, uses only hashlib and
`cryptography`, and verifies a real export (and refuses a changed one), run exactly as shown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ledger.application import HourLedger
from projections.audit.log import AuditLog
from tests.support.paths import PROJECT
from tests.support.worlds import busy_world

DOC = PROJECT / "docs" / "audit.md"


def standalone_verifier() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_verifier_in_the_document_is_short_and_needs_only_hashlib_and_cryptography() -> None:
    code = standalone_verifier()
    assert len(code.splitlines()) < 60
    imported = set(re.findall(r"^(?:from|import) ([\w.]+)", code, flags=re.M))
    assert imported <= {"base64", "hashlib", "json", "sys", "cryptography.hazmat.primitives.asymmetric.ed25519"}


def test_the_verifier_in_the_document_checks_a_real_export(ledger: HourLedger, tmp_path: Path) -> None:
    busy_world(ledger)
    audit = AuditLog(ledger)
    signed, _ = audit.sign_checkpoint()
    lines = [json.dumps(entry, ensure_ascii=False) for entry in audit.iter_entries()]
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "log.jsonl.checkpoint").write_text(signed.note, encoding="utf-8")
    (tmp_path / "ledger.key").write_text(audit.verifier_key + "\n")
    (tmp_path / "verify_export.py").write_text(standalone_verifier(), encoding="utf-8")
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "verify_export.py", "log.jsonl", "log.jsonl.checkpoint", "ledger.key"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )

    good = run()
    assert good.returncode == 0, good.stderr
    assert f"ok: {signed.tree_size} leaves" in good.stdout

    entry = json.loads(lines[4])
    entry["data"]["name"] = entry["data"].get("name", "") + "x"
    lines[4] = json.dumps(entry, ensure_ascii=False)
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = run()
    assert bad.returncode == 1 and f"position {entry['position']}" in bad.stderr
