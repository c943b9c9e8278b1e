"""The one exception type users see: a one-line message that says what to do."""


class CityqError(Exception):
    """A user-facing error. The CLI prints `error: <message>` and exits non-zero, no traceback."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
