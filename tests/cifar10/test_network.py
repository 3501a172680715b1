"""The paper's 3-block ResNet: shapes, exact weight and memristor counts."""

import pytest
import torch

from memlab.errors import ConfigError
from memlab.simulation.cifar10 import Cifar10ResNet, ResidualBlock, build_network, count_weights


def test_output_shape_is_batch_by_10():
    net = build_network(seed=0)
    assert net(torch.zeros(5, 3, 32, 32)).shape == (5, 10)


@pytest.mark.parametrize("cin,cout", [(3, 16), (16, 32), (32, 64)])
def test_block_halves_the_image_and_sets_channels(cin, cout):
    block = ResidualBlock(cin, cout).eval()
    assert block(torch.randn(2, cin, 16, 16)).shape == (2, cout, 8, 8)


def test_block_is_upper_plus_lower_branch_then_pool():
    block = ResidualBlock(3, 4).eval()
    x = torch.randn(1, 3, 8, 8)
    expected = torch.nn.functional.max_pool2d(block.upper(x) + block.lower(x), 2)
    torch.testing.assert_close(block(x), expected)


def test_exact_weight_and_memristor_count():
    count = count_weights(build_network())
    # 3 blocks: (27+144+3)*16 + (144+288+16)*32 + (288+576+32)*64 = 74,464
    # head: 1024*120 + 120*84 + 84*10 = 133,800
    assert count.weights == 74_464 + 133_800 == 208_264
    assert count.memristors == 2 * 208_264 == 416_528
    assert count.digital_biases == 120 + 84 + 10
    # the paper: "~210,000 trained weights", "~420,000 devices"
    assert abs(count.weights - 210_000) / 210_000 < 0.01
    assert abs(count.memristors - 420_000) / 420_000 < 0.01


def test_tiles_list_crossbar_shapes():
    tiles = dict((n, (r, c)) for n, r, c in count_weights(build_network()).tiles)
    assert len(tiles) == 12  # 3 convs per block, 3 linear layers
    assert tiles["features.0.upper.0"] == (27, 16)  # 3 channels × 3×3 rows
    assert tiles["classifier.1"] == (1024, 120)
    assert sum(r * c for r, c in tiles.values()) == 208_264


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build_network(seed=7), build_network(seed=7)
    assert torch.equal(torch.rand(1), before)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = build_network(seed=8)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_bad_widths_are_rejected():
    with pytest.raises(ConfigError, match="channels"):
        Cifar10ResNet(channels=(16, 32))


def test_registry_entry_loads_normalised_tensors(tiny_tarball):
    from memlab.simulation.tasks import get_task

    task = get_task("cifar10")
    assert task.label == "CIFAR-10 (JPEG copy)" and (task.epochs, task.hwat_epochs) == (200, 20)
    data = task.load(tiny_tarball.parent.parent, per_class=1)
    assert data.x_train.shape == (10, 3, 32, 32) and data.x_train.dtype == torch.float32
    assert data.y_test.tolist() == list(range(10))
    assert abs(float(data.x_train.mean())) < 0.2  # normalised with the training statistics
    assert data.provenance()["dataset"] == "CIFAR-10 (JPEG copy)"
    out = task.augment(data.x_train, torch.Generator().manual_seed(0))
    assert out.shape == data.x_train.shape
    assert task.build()(out).shape == (10, 10)
