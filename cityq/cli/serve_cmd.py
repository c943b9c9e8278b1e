"""`cityq serve`: browse the store in a web page, read-only."""

from __future__ import annotations

import ipaddress
import socket

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption
from cityq.errors import CityqError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    store: StoreOption = DEFAULT_STORE,
    port: int = typer.Option(8000, "--port", help="TCP port (0: any free one; the URL printed says which)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; other than 127.0.0.1, anyone "
                             "who can reach this machine can read the store."),
) -> None:
    """Browse the store in a web browser: what it holds, the named queries with their charts, SQL,
    the images with their masks at any threshold, each object across models. Read-only: the
    store is opened read-only and only between requests, so ingests can run meanwhile.

    Example: cityq serve --store cityq-demo/store  (then open http://127.0.0.1:8000)
    """
    try:
        import uvicorn

        from cityq.serve import ServeConfig, create_app
    except ImportError as exc:
        raise CityqError(f"cityq serve needs the 'serve' extra ({exc.name} is missing): "
                         "pip install 'cityq[serve]'") from None
    from cityq.store import Store

    Store(store, read_only=True).close()  # a missing or unreadable store fails here, in one line
    if not _is_loopback(host):
        typer.echo(f"warning: listening on {host}: anyone who can reach this machine can read the store "
                   "(there is no login)", err=True)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CityqError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    typer.echo(f"serving {store} at http://{shown}:{bound}/ (read-only; Ctrl+C stops)", err=True)
    config = ServeConfig(store=store, host=host, port=bound)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", access_log=False))
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
