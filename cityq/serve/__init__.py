"""`cityq serve`: browse one store in a web page, read-only (Starlette + Jinja2 templates).

    from cityq.serve import ServeConfig, create_app
    app = create_app(ServeConfig(store=Path("cityq-store")))   # any ASGI server runs it
"""

from cityq.serve.app import create_app
from cityq.serve.site import ServeConfig

__all__ = ["ServeConfig", "create_app"]
