"""Where the project's files are, for tests that read them or start processes in it."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
