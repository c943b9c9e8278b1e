"""NetVLAD's `dbStruct` .mat files: image lists with UTM coordinates.

The MATLAB release of NetVLAD (Relja/netvlad, datasets/dbBase.m) defines them: a struct
`dbStruct` with `dbImageFns` and `qImageFns` (cell arrays of file names relative to the
database and query roots), `utmDb` and `utmQ` (2 x N, easting and northing in metres),
`posDistThr` (metres), `whichSet` ('train', 'val', 'test'). Pittsburgh 250k ships
`datasets/pitts250k_{train,val,test}.mat`, Tokyo 24/7 `tokyo247.mat`. Fields are read by name,
so the order of fields does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np


class MatError(Exception):
    """A .mat file that cannot be read as a dbStruct (the layout reports it and goes on)."""


@dataclass
class DbStruct:
    path: Path
    which_set: str | None
    db: dict[str, tuple[float, float]] = field(default_factory=dict)  # file stem -> (easting, northing)
    queries: dict[str, tuple[float, float]] = field(default_factory=dict)
    pos_dist_thr: float | None = None  # metres


def read_dbstruct(path: Path) -> DbStruct:
    """Stems, not paths, are the keys: Tokyo 24/7's .mat names `.jpg` files that ship as `.png`
    (both public loaders that read it swap the suffix), and users often move folders."""
    from scipy.io import loadmat

    try:
        raw = loadmat(str(path))["dbStruct"]
    except KeyError:
        raise MatError("no variable 'dbStruct'") from None
    except NotImplementedError:  # MATLAB v7.3 files are HDF5, which scipy does not read
        raise MatError("a MATLAB v7.3 (HDF5) file; save it with -v7 to read it") from None
    except Exception as exc:  # scipy raises many types for a damaged file
        raise MatError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    names = raw.dtype.names or ()
    missing = [n for n in ("dbImageFns", "utmDb") if n not in names]
    if missing:
        raise MatError(f"dbStruct lacks {', '.join(missing)}")
    struct = raw.reshape(-1)[0]
    out = DbStruct(path, _text(struct["whichSet"]) if "whichSet" in names else None)
    out.db = _located(struct["dbImageFns"], struct["utmDb"], "dbImageFns")
    if "qImageFns" in names and "utmQ" in names:
        out.queries = _located(struct["qImageFns"], struct["utmQ"], "qImageFns")
    if "posDistThr" in names:
        out.pos_dist_thr = float(np.asarray(struct["posDistThr"]).reshape(-1)[0])
    return out


def _text(cell) -> str:
    value = np.asarray(cell).reshape(-1)
    return str(value[0]) if value.size else ""


def _located(names_cell, utm, field_name: str) -> dict[str, tuple[float, float]]:
    names = [_text(item) for item in np.asarray(names_cell, dtype=object).reshape(-1)]
    utm = np.asarray(utm, dtype=np.float64)
    if utm.ndim != 2 or 2 not in utm.shape:
        raise MatError(f"{field_name}: its UTM array has shape {utm.shape}, not 2 x N")
    if utm.shape[0] != 2:
        utm = utm.T  # N x 2 in some re-saved files
    if utm.shape[1] != len(names):
        raise MatError(f"{field_name}: {len(names)} names but {utm.shape[1]} coordinates")
    return {PurePosixPath(n.replace("\\", "/")).stem: (float(e), float(nn))
            for n, e, nn in zip(names, utm[0], utm[1]) if n}
