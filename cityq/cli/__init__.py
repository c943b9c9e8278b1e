"""The `cityq` command line: a thin layer over cityq.store, cityq.pipeline and cityq.queries.

Each `*_cmd.py` module in this package registers its commands; they are discovered here so a
new command is one new file.
"""

from __future__ import annotations

import errno
import importlib
import os
import pkgutil
import sys
import traceback

import typer
from typer.core import TyperGroup

from cityq import __version__
from cityq.errors import CityqError


class CityqGroup(TyperGroup):
    """Turns expected failures into one line and an exit code; `--debug` keeps the traceback."""

    def list_commands(self, ctx):  # keep the order commands were registered in
        return list(self.commands)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except CityqError as exc:
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "interrupted; rerun the same command to resume", 130)
        except BrokenPipeError:
            _reader_left()
        except Exception as exc:  # a bug or an unexpected environment: still one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if _disk_full(exc):
                _fail(ctx, f"no space left on device ({first}); free some space and rerun the same "
                           "command: it resumes where it stopped, nothing half-written is kept", 1)
            _fail(ctx, f"unexpected {type(exc).__name__}: {first} (rerun with --debug for the traceback)", 1)


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC from Python, Zarr or DuckDB (which reports it as text in its own IOException)."""
    return (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or \
        "no space left on device" in str(exc).lower()


# 128 + SIGPIPE: what `seq 1000000 | head -1` gives the shell for seq, so `set -o pipefail`
# scripts see the same as with any Unix tool.
EXIT_BROKEN_PIPE = 141


def _reader_left():
    """The reader of stdout went away (`cityq query ... | head`): stop quietly, as Unix tools do.
    stdout is pointed at /dev/null so that Python's own flush at exit does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    raise typer.Exit(EXIT_BROKEN_PIPE)


def _fail(ctx: typer.Context, message: str, exit_code: int):
    if (ctx.find_root().obj or {}).get("debug"):
        traceback.print_exc()
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


app = typer.Typer(
    cls=CityqGroup,
    name="cityq",
    help=(
        "Which objects do city-recognition CNNs rely on? An experiment store with a query CLI.\n\n"
        "Example: cityq demo  (the whole study on synthetic cities), then "
        "cityq query \"top objects\""
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cityq {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    ctx.obj = {"debug": debug}


# Commands appear in --help in this order; any other *_cmd module follows alphabetically.
_ORDER = ["demo", "synth", "dataset", "train", "model", "segmenter", "segment", "ingest", "reliance", "embed",
          "query", "sql", "chart", "figure", "report", "serve", "info", "tables", "check"]


def _register_commands() -> None:
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmd")]
    rank = {name: i for i, name in enumerate(_ORDER)}
    for module_name in sorted(found, key=lambda n: (rank.get(n[:-4], len(rank)), n)):
        importlib.import_module(f"{__name__}.{module_name}").register(app)


_register_commands()


def main() -> None:
    sys.exit(app(standalone_mode=True))
