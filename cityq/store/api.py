"""Notebook helpers on `Store` that reach into the pipeline (imported lazily: torch is heavy)."""

from __future__ import annotations


def object_index(self, name: str) -> int:
    """ADE20K 0-based index of an object by any synonym: `store.object_index('fence')` -> 32."""
    from cityq.objects import object_index as lookup

    return lookup(name)


def attach(cls) -> None:
    cls.object_index = object_index
