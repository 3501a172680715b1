"""Run archives out to the formats other tools read: CSV, netCDF, Parquet.

What ``memlab export RUN.h5 --to csv|netcdf|parquet`` calls. Every format holds
the reads, their per-point status flags and the run's metadata, built from
:func:`memlab.protocols.dataset.run_dataset` so the three agree:

* ``netcdf``: the Dataset itself (netCDF-4 through h5netcdf): dimensions,
  coordinates, ``units``, CF ``flag_masks``/``flag_meanings`` and the run's
  attributes; ``xarray.open_dataset(path)`` gives it back.
* ``parquet``: one row per (cycle, pulse) (or state/sweep, point), units in
  the column names, the metadata as JSON under the schema key ``memlab``.
* ``csv``: the same table, plus a ``read_flags`` column naming the status
  flags (``COMPLIANCE|OVERFLOW``; empty = normal), and the metadata (attributes,
  units of every column, flag meanings) in ``<out>.json`` beside it, since a CSV
  has no place for it.

Files are written to a temporary name and renamed, so a reader never sees half.
CSV and Parquet are built a block of cycles at a time (:func:`table_blocks`,
one Parquet row group a block) from the lazily read Dataset, so a run of any
length exports in bounded memory; netCDF holds one variable at a time.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np

from memlab.errors import ConfigError
from memlab.status import PointStatus

FORMATS = {"csv": ".csv", "netcdf": ".nc", "parquet": ".parquet"}


def default_out(run_path: str | os.PathLike, fmt: str, group: str | None = None) -> pathlib.Path:
    """``RUN.h5`` → ``RUN.csv`` (``RUN.iv.csv`` when a group other than the run's own is asked for)."""
    p = pathlib.Path(run_path)
    return p.with_name(p.stem + (f".{group}" if group else "") + FORMATS[fmt])


def metadata(ds) -> dict:
    """The Dataset's attributes and, per column, its units (JSON-ready)."""
    def plain(v):
        return v.item() if isinstance(v, np.generic) else v.tolist() if isinstance(v, np.ndarray) else v

    columns = {}
    for name, var in {**ds.coords, **ds.data_vars}.items():
        columns[name] = {k: plain(v) for k, v in var.attrs.items()}
    return {"format": "memlab-export", "attrs": {k: plain(v) for k, v in ds.attrs.items()}, "columns": columns,
            "status_flags": {f.name: int(f) for f in PointStatus if f}}


def table(ds):
    """The Dataset as a flat :class:`pandas.DataFrame`, one row per point, dimensions as columns."""
    df = ds.to_dataframe().reset_index()
    for name in [n for n in df.columns if n.endswith("status")]:
        flags = df[name].to_numpy()
        names = {int(v): ("" if v == 0 else PointStatus.describe(int(v))) for v in np.unique(flags)}
        df[name.replace("status", "flags")] = [names[int(v)] for v in flags]
    return df


def _write_atomic(out: pathlib.Path, write) -> None:
    tmp = out.with_name(out.name + ".tmp")
    try:
        write(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def export_run(run_path: str | os.PathLike, fmt: str, out: str | os.PathLike | None = None, *,
               group: str | None = None, overwrite: bool = False) -> list[pathlib.Path]:
    """Write the run at ``run_path`` as ``fmt`` (csv, netcdf, parquet); returns the files written."""
    from memlab.protocols.archive import read_run
    from memlab.protocols.dataset import run_dataset

    if fmt not in FORMATS:
        raise ConfigError(f"--to {fmt!r}; allowed for a run archive: {', '.join(FORMATS)}")
    out = pathlib.Path(out) if out is not None else default_out(run_path, fmt, group)
    meta_path = out.with_name(out.name + ".json")
    targets = [out] + ([meta_path] if fmt == "csv" else [])
    for t in targets:
        if t.exists() and not overwrite:
            raise ConfigError(f"{t}: file exists (use --overwrite or choose another --out)")
    ds = run_dataset(read_run(run_path, waveforms=False), group)
    if fmt == "netcdf":
        _write_atomic(out, lambda p: ds.to_netcdf(p, engine="h5netcdf"))
    elif fmt == "parquet":
        _write_parquet(ds, out)
    else:
        def write_csv(path: pathlib.Path) -> None:
            with open(path, "w", newline="", encoding="utf-8") as f:
                for k, df in enumerate(table_blocks(ds)):
                    df.to_csv(f, index=False, header=k == 0)

        _write_atomic(out, write_csv)
        text = json.dumps(metadata(ds), indent=2, sort_keys=True) + "\n"
        _write_atomic(meta_path, lambda p: p.write_text(text, encoding="utf-8"))
    return targets


TABLE_BLOCK_ROWS = 200_000
"""Rows of the flat table built at a time by the CSV and Parquet exports (a block of whole cycles)."""


def table_blocks(ds, rows: int | None = None):
    """:func:`table` of ``ds`` a block of its first dimension (cycles, states, sweeps) at a time,
    about ``rows`` rows each: the lazily read Dataset is read one block at a time."""
    dim = next(iter(ds[name].dims[0] for name in ds.data_vars))
    per = max(1, int(np.prod([n for d, n in ds.sizes.items() if d != dim], dtype=np.int64)))
    step = max(1, (rows or TABLE_BLOCK_ROWS) // per)
    for a in range(0, max(ds.sizes[dim], 1), step):
        yield table(ds.isel({dim: slice(a, a + step)}))


def _write_parquet(ds, out: pathlib.Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency; kept for slim installs
        raise ConfigError("--to parquet needs the pyarrow package (pip install pyarrow)") from None

    def write(path: pathlib.Path) -> None:
        writer = None
        try:
            for df in table_blocks(ds):  # one row group a block
                tab = pa.Table.from_pandas(df, preserve_index=False)
                if writer is None:
                    meta = dict(tab.schema.metadata or {})
                    meta[b"memlab"] = json.dumps(metadata(ds), sort_keys=True).encode()
                    schema = tab.schema.with_metadata(meta)
                    writer = pq.ParquetWriter(path, schema)
                writer.write_table(tab.cast(schema))
        finally:
            if writer is not None:
                writer.close()

    _write_atomic(out, write)


def read_parquet_metadata(path: str | os.PathLike) -> dict:
    """The ``memlab`` metadata of an exported Parquet file."""
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[b"memlab"])
