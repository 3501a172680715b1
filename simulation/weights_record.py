"""The record a weights file carries: how the network in it was trained, beside it as JSON.

A weights file (``*.pt``, tensors only, loaded with ``weights_only=True``) cannot say
how it was made, so a run that saves one writes ``<name>.json`` beside it: the
architecture, the epochs it was trained for, where and when, and the weights'
SHA-256, which ties the record to that file. A run that loads weights instead of
training them copies the record into its results, so an evaluation-only results
file says how many epochs *its* network was trained, not the 0 it trained itself.

Schema (``kind`` ``memlab-weights-record``, ``version`` 1): ``weights_file`` (name),
``weights_sha256``, ``stage`` ("digital" or "hwat"), ``task``, ``architecture``
(``{"name", "channels", "hidden"}`` for CIFAR-10), ``epochs`` (digital epochs the
network went through), ``hwat_epochs`` (HWAT epochs on top, 0 for a digital file),
``trained_on`` (the hardware, in words), ``trained_at`` (UTC date), ``source`` (the
repository file that tells the story, e.g. a README or a results JSON), ``note``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from memlab.errors import SchemaError
from memlab.files import sha256_file

KIND = "memlab-weights-record"
VERSION = 1
REQUIRED = ("weights_file", "weights_sha256", "stage", "task", "epochs", "hwat_epochs")


def record_path(weights: str | os.PathLike) -> Path:
    """Where the record of ``weights`` lies: the same name with ``.json``."""
    return Path(weights).with_suffix(".json")


def write_record(weights: str | os.PathLike, **fields: Any) -> dict[str, Any]:
    """Write the record of the (already saved) ``weights`` file; returns it.

    ``fields`` are the schema's (see the module); ``weights_file`` and
    ``weights_sha256`` are filled in from the file.
    """
    weights = Path(weights)
    record = {"kind": KIND, "version": VERSION, "weights_file": weights.name,
              "weights_sha256": sha256_file(weights), **fields}
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise SchemaError(f"weights record of {weights.name}: missing {', '.join(missing)}")
    tmp = record_path(weights).with_name(record_path(weights).name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, record_path(weights))
    return record


def read_record(weights: str | os.PathLike) -> Optional[dict[str, Any]]:
    """The record of ``weights``, or None when it has none.

    SchemaError when the record is not one, lacks a field, or belongs to other
    bytes (its SHA-256 is not the file's): a record that does not describe the
    file must not be reported as if it did.
    """
    path = record_path(weights)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError as exc:
        raise SchemaError(f"{path.name}: not JSON ({exc})") from None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise SchemaError(f"{path.name}: kind is not {KIND!r}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise SchemaError(f"{path.name}: missing {', '.join(missing)}")
    digest = sha256_file(weights)
    if record["weights_sha256"] != digest:
        raise SchemaError(f"{path.name}: weights_sha256 {record['weights_sha256'][:12]}… is not the "
                          f"SHA-256 of {Path(weights).name} ({digest[:12]}…)")
    return record


def loaded_provenance(weights: str | os.PathLike, *, epochs: Optional[int] = None,
                      hwat_epochs: Optional[int] = None) -> dict[str, Any]:
    """What a results file says of a training stage whose weights were loaded, not trained.

    ``epochs_trained`` / ``hwat_epochs_trained``: from the weights' own record when
    it has one, else as ``epochs`` / ``hwat_epochs`` stated by the run, else None;
    ``epochs_source`` says which. ``weights_record``: the record itself (or None).
    """
    record = read_record(weights)
    if record is not None:
        return {"epochs_trained": record["epochs"], "hwat_epochs_trained": record["hwat_epochs"],
                "epochs_source": f"weights record {record_path(weights).name}", "weights_record": record}
    stated = epochs is not None or hwat_epochs is not None
    return {"epochs_trained": epochs, "hwat_epochs_trained": hwat_epochs,
            "epochs_source": "stated by the run" if stated else "unknown: no record beside the weights",
            "weights_record": None}
