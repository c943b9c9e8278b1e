"""City-recognition architectures by name: `create_model`, `list_archs`, `target_layer`."""

# Importing the modules runs their @register_arch decorators.
from cityq.models import shallow as _shallow  # noqa: E402,F401
from cityq.models import torchvision_archs as _torchvision_archs  # noqa: E402,F401
from cityq.models.registry import ArchSpec, create_model, get_arch, list_archs, register_arch, target_layer

__all__ = ["ArchSpec", "create_model", "get_arch", "list_archs", "register_arch", "target_layer"]
