"""The one exception type users see: a one-line message that says what to do."""


class CityqError(Exception):
    """A user-facing error. The CLI prints `error: <message>` and exits non-zero, no traceback."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def sql_error_text(exc: Exception) -> str:
    """A DuckDB error as one line, keeping its hints ("Candidate bindings: ...", "Did you mean
    ...?") and dropping the caret picture of the statement."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # A macro that refuses its input (an off-grid threshold: `threshold_position`) raises
    # DuckDB's error(), whose text is already the whole message.
    lines[0] = lines[0].removeprefix("Invalid Input Error: ")
    hints = [line for line in lines[1:] if line.startswith(("Candidate bindings", "Did you mean", "HINT"))]
    return "; ".join([lines[0], *hints])
