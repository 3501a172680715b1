"""Weights records: the JSON beside a weights file that says how its network was trained."""

import json
import pathlib

import pytest
import torch

from memlab.errors import SchemaError
from memlab.simulation import weights_record as wr
from memlab.simulation.cifar10 import architecture_of

COMMITTED = pathlib.Path(__file__).resolve().parents[2] / "results" / "cifar10" / "networks"


def _weights(tmp_path, value=1.0):
    path = tmp_path / "net.pt"
    torch.save({"w": torch.full((2, 2), value)}, path)
    return path


def test_write_then_read_is_the_identity(tmp_path):
    path = _weights(tmp_path)
    written = wr.write_record(path, stage="digital", task="cifar10", epochs=7, hwat_epochs=0, trained_on="CPU")
    assert wr.record_path(path) == tmp_path / "net.json"
    assert wr.read_record(path) == written and written["epochs"] == 7 and written["weights_file"] == "net.pt"


def test_no_record_is_none_and_a_record_of_other_bytes_is_an_error(tmp_path):
    path = _weights(tmp_path)
    assert wr.read_record(path) is None
    wr.write_record(path, stage="digital", task="cifar10", epochs=7, hwat_epochs=0)
    _weights(tmp_path, 2.0)  # the weights change, the record stays
    with pytest.raises(SchemaError, match="weights_sha256"):
        wr.read_record(path)


def test_incomplete_records_are_rejected(tmp_path):
    path = _weights(tmp_path)
    with pytest.raises(SchemaError, match="epochs"):
        wr.write_record(path, stage="digital", task="cifar10", hwat_epochs=0)
    wr.record_path(path).write_text(json.dumps({"kind": wr.KIND, "weights_sha256": "x"}))
    with pytest.raises(SchemaError, match="missing"):
        wr.read_record(path)


def test_loaded_provenance_prefers_the_record_then_what_the_run_states(tmp_path):
    path = _weights(tmp_path)
    assert wr.loaded_provenance(path)["epochs_trained"] is None
    stated = wr.loaded_provenance(path, epochs=200, hwat_epochs=20)
    assert (stated["epochs_trained"], stated["hwat_epochs_trained"]) == (200, 20)
    assert stated["epochs_source"] == "stated by the run"
    wr.write_record(path, stage="hwat", task="cifar10", epochs=50, hwat_epochs=5)
    rec = wr.loaded_provenance(path, epochs=200, hwat_epochs=20)
    assert (rec["epochs_trained"], rec["hwat_epochs_trained"]) == (50, 5)
    assert rec["epochs_source"] == "weights record net.json"


@pytest.mark.parametrize("name,epochs,hwat_epochs", [("cifar10_digital", 200, 0), ("cifar10_hwat", 200, 20)])
def test_committed_cifar10_networks_carry_their_record(name, epochs, hwat_epochs):
    weights = COMMITTED / f"{name}.pt"
    record = wr.read_record(weights)  # raises if it does not describe these bytes
    assert (record["epochs"], record["hwat_epochs"]) == (epochs, hwat_epochs)
    arch = architecture_of(torch.load(weights, weights_only=True))
    assert record["architecture"] == arch.to_json() and arch.name == "v1-2026-11"
