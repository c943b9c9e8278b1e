"""Synthetic street scenes of several cities with planted objects and ADE20K pixel labels:
the embedded default data set (SPEC: "The embedded default: synthetic cities")."""

from cityq.synth.scene import render_place_view
from cityq.synth.spec import Spec, load_spec
from cityq.synth.writer import generate_dataset

__all__ = ["Spec", "generate_dataset", "load_spec", "render_place_view"]
