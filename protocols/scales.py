"""HDF5 dimension scales of the run archive (schema version 3), so other tools see the axes.

Each data group holds index datasets marked as HDF5 dimension scales and
attached to the axes of its arrays: ``/pulses/cycle`` (grows with the reads)
and ``/pulses/pulse``; ``/pulses/waveform/time_s`` for the sample axis;
``/retention/state`` and ``/retention/point``; ``/iv/sweep`` and ``/iv/point``.
HDFView, netCDF-4 readers (h5netcdf, netCDF4) and xarray then name the
dimensions of e.g. ``read_current_A`` as (cycle, pulse). The scales hold
indices from 0 and carry ``units = "1"``; memlab's own reader does not need them.
"""

from __future__ import annotations

import h5py
import numpy as np

ROW_SCALES = {"pulses": ("cycle", "pulse"), "retention": ("state", "point"), "iv": ("sweep", "point")}
"""Per data group: the name of the growing row scale and of the fixed column scale."""


def _mark(ds: h5py.Dataset, name: str, long_name: str) -> h5py.Dataset:
    ds.attrs["units"] = "1"
    ds.attrs["long_name"] = long_name
    ds.make_scale(name)
    return ds


def create_scales(group: h5py.Group, width: int, rows: int) -> None:
    """The row scale (empty, growing) and the column scale (0 .. width-1) of a data group."""
    row, col = ROW_SCALES[group.name.strip("/")]
    _mark(group.create_dataset(row, shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(max(1, min(rows, 4096)),),
                               fletcher32=True),
          row, f"{row} index (from 0)")
    _mark(group.create_dataset(col, data=np.arange(width, dtype=np.int64), fletcher32=True), col,
          f"{col} index (from 0)")


def attach(ds: h5py.Dataset, *scales: h5py.Dataset | None) -> None:
    """Attach ``scales`` to the axes of ``ds`` in order (None leaves an axis unattached)."""
    for axis, scale in enumerate(scales):
        if scale is not None:
            ds.dims[axis].attach_scale(scale)
            ds.dims[axis].label = scale.name.rsplit("/", 1)[1]


def attach_group(group: h5py.Group, names: tuple[str, ...]) -> None:
    """Attach the group's row and column scales to each 2-D dataset in ``names``."""
    row, col = ROW_SCALES[group.name.strip("/")]
    for name in names:
        attach(group[name], group[row], group[col])


def append_rows(group: h5py.Group, k: int) -> None:
    """Grow the group's row scale by ``k`` indices (before the data rows: a torn row is trimmed with them)."""
    row = ROW_SCALES[group.name.strip("/")][0]
    if row not in group:  # an archive of schema version 1 resumed by this writer
        return
    ds = group[row]
    n = ds.shape[0]
    ds.resize(n + k, axis=0)
    ds[n:] = np.arange(n, n + k, dtype=np.int64)
