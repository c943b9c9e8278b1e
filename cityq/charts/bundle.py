"""The Vega + Vega-Lite + vega-embed JavaScript, inlined into every HTML page we write.

vl-convert builds the bundle on request, which takes seconds; it depends only on the
vl-convert version, so it is memoised in the process and cached on disk
($XDG_CACHE_HOME/cityq, else ~/.cache/cityq). An unwritable cache just means no disk cache.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path


def _cache_file() -> Path:
    import vl_convert

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cityq"
    return root / f"vega-embed-bundle-vlc{vl_convert.__version__}.js"


@functools.cache
def vega_bundle() -> str:
    import vl_convert

    path = _cache_file()
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        tmp.replace(path)  # atomic: concurrent writers never leave a half file
    except OSError:
        pass
    return bundle


def script_safe(text: str, *, is_json: bool = False) -> str:
    """Text that can sit inside <script>...</script> without ending it early.

    In JSON every "</" is inside a string, where "<\\/" means the same. Code is different:
    "</" also occurs in regular-expression literals (/</g), so only "</script" is touched.
    """
    if is_json:
        return text.replace("</", "<\\/")
    return re.sub(r"</(script)", lambda m: "<\\/" + m.group(1), text, flags=re.IGNORECASE)
