"""Seeds by name: reproducible, distinct per stage and root, and independent of other stages."""

import pytest

from memlab import seeds


def test_same_name_same_seed_and_names_differ():
    assert seeds.derive(0, "programming") == seeds.derive(0, "programming")
    names = ["network", "hwat", "programming", "drift", "d2d_sweep", "energy", "calibration"]
    values = [seeds.derive(0, n) for n in names]
    assert len(set(values)) == len(names) and all(0 <= v < 2 ** 63 for v in values)


def test_roots_do_not_overlap_like_offsets_do():
    # with offsets, root 0's "programming" (0 + 10) was root 10's "network" (10 + 0)
    assert seeds.derive(0, "programming") != seeds.derive(10, "network")
    assert seeds.derive(1, "drift") != seeds.derive(0, "drift")


def test_a_path_of_names():
    assert seeds.derive(3, "repeat", "1") != seeds.derive(3, "repeat", "2") != seeds.derive(3, "repeat")
    assert seeds.table(5, ["a", "b"]) == {"a": seeds.derive(5, "a"), "b": seeds.derive(5, "b")}


@pytest.mark.parametrize("root, name", [(-1, "x"), (1.5, "x"), (True, "x"), (0, ""), (0, 3)])
def test_bad_input_is_refused(root, name):
    with pytest.raises(ValueError):
        seeds.derive(root, name)
