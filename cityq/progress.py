"""Progress bars for long work, always on stderr so stdout stays pipeable."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def bar(iterable=None, *, total=None, desc: str = "", unit: str = "it", disable: bool | None = None, **kwargs):
    if disable is None:
        # Shown on a terminal; CITYQ_PROGRESS=1 forces it on (e.g. in logs), =0 off.
        forced = os.environ.get("CITYQ_PROGRESS")
        disable = (forced == "0") if forced is not None else not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable,
                dynamic_ncols=True, leave=False, **kwargs)
