"""The paper's 3-block ResNet: shapes, named architectures, exact weight and memristor counts."""

import math
import pathlib

import pytest
import torch

from memlab.errors import ConfigError
from memlab.simulation.cifar10 import (ARCHITECTURES, Cifar10ResNet, ResidualBlock, architecture_of, build_network,
                                       count_weights, load_network)

COMMITTED = pathlib.Path(__file__).resolve().parents[2] / "results" / "cifar10" / "networks"


def test_output_shape_is_batch_by_10():
    net = build_network(seed=0)
    assert net(torch.zeros(5, 3, 32, 32)).shape == (5, 10)


@pytest.mark.parametrize("cin,cout", [(3, 16), (16, 48), (48, 96)])
def test_block_halves_the_image_and_sets_channels(cin, cout):
    block = ResidualBlock(cin, cout).eval()
    assert block(torch.randn(2, cin, 16, 16)).shape == (2, cout, 8, 8)


def test_block_is_upper_plus_lower_branch_then_pool():
    block = ResidualBlock(3, 4).eval()
    x = torch.randn(1, 3, 8, 8)
    expected = torch.nn.functional.max_pool2d(block.upper(x) + block.lower(x), 2)
    torch.testing.assert_close(block(x), expected)


def test_default_is_paper_balanced_with_most_weights_in_the_convolutions():
    count = count_weights(build_network())
    # 3 blocks: (27+144+3)*16 + (144+432+16)*48 + (432+864+48)*96 = 160,224
    # head: 1536*32 + 32*32 + 32*10 = 50,496
    assert count.convolution_weights == 2_784 + 28_416 + 129_024 == 160_224
    assert count.weights == 160_224 + 50_496 == 210_720
    assert count.convolution_weights / count.weights > 0.75
    assert count.memristors == 2 * 210_720 == 421_440
    assert count.digital_biases == 32 + 32 + 10
    # the paper: "~210,000 trained weights", "~420,000 devices"
    assert abs(count.weights - 210_000) / 210_000 < 0.01
    assert abs(count.memristors - 420_000) / 420_000 < 0.01
    tiles = sum(math.ceil(r / 512) * math.ceil(c / 512) for _, r, c in count.tiles)
    assert tiles == 15  # the docstring's count at 512x512


def test_v1_architecture_is_the_committed_networks_widths():
    count = count_weights(build_network(arch="v1-2026-11"))
    # 3 blocks: (27+144+3)*16 + (144+288+16)*32 + (288+576+32)*64 = 74,464
    # head: 1024*120 + 120*84 + 84*10 = 133,800
    assert count.convolution_weights == 74_464 and count.weights == 74_464 + 133_800 == 208_264
    assert count.memristors == 416_528 and count.digital_biases == 120 + 84 + 10


def test_tiles_list_crossbar_shapes():
    tiles = dict((n, (r, c)) for n, r, c in count_weights(build_network()).tiles)
    assert len(tiles) == 12  # 3 convs per block, 3 linear layers
    assert tiles["features.0.upper.0"] == (27, 16)  # 3 channels × 3×3 rows
    assert tiles["features.2.upper.3"] == (864, 96)
    assert tiles["classifier.1"] == (1536, 32)
    assert sum(r * c for r, c in tiles.values()) == 210_720


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_is_named_and_read_back_from_the_weights(name):
    net = build_network(seed=1, arch=name)
    assert net.architecture.name == name and net.architecture == ARCHITECTURES[name]
    assert architecture_of(net.state_dict()) == ARCHITECTURES[name]
    hwat_style = {f"digital.{k}": v for k, v in net.state_dict().items()}
    assert architecture_of(hwat_style) == ARCHITECTURES[name]
    assert net.architecture.to_json() == {"name": name, "channels": list(ARCHITECTURES[name].channels),
                                          "hidden": list(ARCHITECTURES[name].hidden)}


def test_unknown_architectures_are_rejected():
    with pytest.raises(ConfigError, match="arch='wide'"):
        build_network(arch="wide")
    with pytest.raises(ConfigError, match="no architecture of that shape"):
        architecture_of(Cifar10ResNet((8, 8, 8), (16, 16)).state_dict())
    with pytest.raises(ConfigError, match="not the weights"):
        architecture_of({"fc.weight": torch.zeros(2, 2)})
    assert Cifar10ResNet((8, 8, 8), (16, 16)).architecture.name == "custom"


def test_committed_weights_load_as_v1_and_only_as_v1():
    path = COMMITTED / "cifar10_digital.pt"
    net = load_network(path)
    assert net.architecture.name == "v1-2026-11" and not net.training
    state = torch.load(path, weights_only=True)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(RuntimeError):  # the default widths are not the committed ones
        build_network().load_state_dict(state)
    with pytest.raises(ConfigError, match="not 'paper-balanced'"):
        load_network(path, arch="paper-balanced")
    hwat = torch.load(COMMITTED / "cifar10_hwat.pt", weights_only=True)
    assert architecture_of(hwat).name == "v1-2026-11"


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
    x = data.x_train[:]  # a normalised view of the uint8 images: no float copy of the whole set
    assert len(data.x_train) == 10 and x.shape == (10, 3, 32, 32) and x.dtype == torch.float32
    assert data.train_images.dtype == torch.uint8 and data.x_test.dtype == torch.float32
    assert data.y_test.tolist() == list(range(10))
    assert abs(float(x.mean())) < 0.2  # normalised with the training statistics
    assert data.provenance()["dataset"] == "CIFAR-10 (JPEG copy)"
    out = task.augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert task.build()(out).shape == (10, 10)
