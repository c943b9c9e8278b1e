"""Assertions shared by test files (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations


def one_line_error(result, *needles: str) -> str:
    """The CLI contract for failures: non-zero exit, one stderr line `error: ...`, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
