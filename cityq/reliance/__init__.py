"""Reliance by removal (SPEC §11): what a model loses when an object is taken out of the image.

Ground floor: pure functions on arrays (how to remove an object, where its control goes), no
store and no pipeline.
"""
