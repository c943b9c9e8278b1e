"""cityq: which objects do city-recognition CNNs rely on? An experiment store with a query CLI."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so `import cityq` (and `cityq --help`) does not pay for torch and duckdb.
    if name == "Store":
        from cityq.store import Store

        return Store
    if name == "overlay":
        from cityq.figures.overlay import overlay

        return overlay
    raise AttributeError(name)


__all__ = ["Store", "__version__", "overlay"]
