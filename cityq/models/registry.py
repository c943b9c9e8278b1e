"""The architecture registry: one constructor and one Grad-CAM target layer per name.

Each architecture names its Grad-CAM target layer here, at registration, and nowhere else:
ingest, tests and benchmarks all ask `target_layer(model, arch)`. Every target is the
*rectified* output of the last convolutional layer (the maps Grad-CAM was defined on), and no
operation downstream of it works in place (SPEC §3).
"""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass
from typing import Callable

from torch import nn

from cityq.errors import CityqError


@dataclass(frozen=True)
class ArchSpec:
    name: str
    build: Callable[[int], nn.Module]  # num_classes -> a freshly initialised module
    target: str  # dotted submodule path of the Grad-CAM target layer
    description: str


_ARCHS: dict[str, ArchSpec] = {}


def register_arch(name: str, target: str, description: str):
    """Decorator: register `build(num_classes) -> nn.Module` under `name`."""

    def decorate(build: Callable[[int], nn.Module]) -> Callable[[int], nn.Module]:
        if name in _ARCHS:
            warnings.warn(f"architecture {name!r} registered twice; the later one wins", stacklevel=2)
        _ARCHS[name] = ArchSpec(name=name, build=build, target=target, description=description)
        return build

    return decorate


def list_archs(pattern: str = "*") -> list[str]:
    return sorted(n for n in _ARCHS if fnmatch.fnmatch(n, pattern))


def get_arch(arch: str) -> ArchSpec:
    if arch not in _ARCHS:
        raise CityqError(f"unknown architecture {arch!r}; known: {', '.join(list_archs())}")
    return _ARCHS[arch]


def create_model(arch: str, num_classes: int) -> nn.Module:
    """A randomly initialised model (never downloads weights)."""
    if num_classes < 2:
        raise CityqError(f"a city classifier needs at least 2 cities, got {num_classes}")
    return get_arch(arch).build(num_classes)


def target_layer(model: nn.Module, arch: str) -> nn.Module:
    """The module whose output Grad-CAM differentiates (SPEC §3)."""
    return model.get_submodule(get_arch(arch).target)
