"""The computing layer: datasets scanned, models trained, masks and counts computed, maps embedded.

Everything here reads and writes the store through cityq.store (which owns every table and
array); nothing here prints: functions return result objects and the CLI reports them.
"""
