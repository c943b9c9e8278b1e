"""Shared fixtures: an in-memory store, the CLI runner."""

from __future__ import annotations

import os

import pytest

# Deterministic and quiet: no progress bars in test output, one thread for reproducible timing.
os.environ.setdefault("CITYQ_PROGRESS", "0")


@pytest.fixture
def memory_store():
    from cityq.store import Store

    store = Store(":memory:")
    yield store
    store.close()


@pytest.fixture
def cli():
    """Run the CLI in-process: cli(["sql", "select 1"]) -> result with exit_code, stdout, stderr."""
    from typer.testing import CliRunner

    from cityq.cli import app

    runner = CliRunner()

    def invoke(args, **kwargs):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return invoke
