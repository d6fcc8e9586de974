"""Loading weights from local files by the original key names."""

import pytest
import torch

from amtnet.model import AMTNet
from amtnet.weights import load_core
from core.backbones.vgg import L2Norm, load_vgg16_reducedfc, replicate_first_conv, vgg16_reducedfc
from core.errors import DataError

# ssd.pytorch's vgg16_reducedfc.pth: the conv modules of its ModuleList, by index, with their shapes.
SSD_VGG_CONVS = {0: (64, 3, 3), 2: (64, 64, 3), 5: (128, 64, 3), 7: (128, 128, 3), 10: (256, 128, 3),
                 12: (256, 256, 3), 14: (256, 256, 3), 17: (512, 256, 3), 19: (512, 512, 3), 21: (512, 512, 3),
                 24: (512, 512, 3), 26: (512, 512, 3), 28: (512, 512, 3), 31: (1024, 512, 3), 33: (1024, 1024, 1)}


def reducedfc_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, (o, c, k) in SSD_VGG_CONVS.items():
        state[f"{i}.weight"] = torch.randn(o, c, k, k, generator=g) * 0.01
        state[f"{i}.bias"] = torch.randn(o, generator=g) * 0.01
    return state


def test_vgg16_reducedfc_key_names_load_with_nothing_missing(tmp_path):
    state = reducedfc_state()
    path = tmp_path / "vgg16_reducedfc.pth"
    torch.save(state, path)
    layers = vgg16_reducedfc()
    assert set(layers.state_dict()) == set(state)  # exactly ssd.pytorch's names, nothing missing or extra
    report = load_vgg16_reducedfc(layers, path)
    assert report["ignored"] == []
    for k, v in state.items():
        assert torch.equal(layers.state_dict()[k], v)


def test_stacked_flow_first_conv_is_replicated_and_divided(tmp_path):
    state = reducedfc_state(1)
    layers = vgg16_reducedfc(in_channels=15)
    load_vgg16_reducedfc(layers, state)
    w = layers[0].weight.detach()
    assert w.shape == (64, 15, 3, 3)
    for i in range(5):
        assert torch.allclose(w[:, 3 * i:3 * i + 3], state["0.weight"] / 5)
    # a stack of 5 identical images gives the RGB response
    x = torch.randn(1, 3, 8, 8)
    rgb = torch.nn.functional.conv2d(x, state["0.weight"], padding=1)
    stacked = torch.nn.functional.conv2d(x.repeat(1, 5, 1, 1), w, padding=1)
    assert torch.allclose(rgb, stacked, atol=1e-5)
    with pytest.raises(ValueError):
        replicate_first_conv(state["0.weight"], 7)


def test_missing_or_wrong_width_weights_fail_with_one_line(tmp_path):
    state = reducedfc_state()
    del state["31.weight"]
    with pytest.raises(DataError, match="31.weight"):
        load_vgg16_reducedfc(vgg16_reducedfc(), state)
    with pytest.raises(DataError, match="shape"):
        load_vgg16_reducedfc(vgg16_reducedfc(width=0.5), reducedfc_state())


def test_l2norm_by_hand():
    m = L2Norm(2, scale=20.0)
    x = torch.tensor([[[[3.0]], [[4.0]]]])  # one pixel, channels (3, 4): norm 5
    assert torch.allclose(m(x).flatten(), torch.tensor([12.0, 16.0]))


def test_road_ssd_checkpoint_and_single_stream_amtnet_checkpoint(tmp_path):
    torch.manual_seed(0)
    src = AMTNet(25, fusion_type="none", width=1 / 16)
    # a realtime-action-detection SSD checkpoint: vgg.*, L2Norm.weight, extras.*, plus its conv heads
    ssd = {k[len("core_base."):]: v for k, v in src.state_dict().items() if k.startswith("core_base.")}
    ssd["loc.0.weight"] = torch.zeros(16, 32, 3, 3)
    ssd["conf.0.weight"] = torch.zeros(100, 32, 3, 3)
    torch.save(ssd, tmp_path / "rgb-ssd300_ucf24_120000.pth")
    dst = AMTNet(25, fusion_type="none", width=1 / 16)
    load_core(dst.core_base, str(tmp_path / "rgb-ssd300_ucf24_120000.pth"))
    for k, v in dst.core_base.state_dict().items():
        assert torch.equal(v, ssd[k])
    # single-stream AMTNet checkpoints saved from DataParallel (module.core_base.*) into a SUM model whose
    # extra stream takes 5 stacked flow images
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, tmp_path / "single.pth")
    fused = AMTNet(25, fusion_type="sum", input_frames_extra=5, width=1 / 16)
    load_core(fused.core_base, str(tmp_path / "single.pth"))
    load_core(fused.core_extra, str(tmp_path / "single.pth"))
    assert torch.equal(fused.core_base.vgg[0].weight, src.core_base.vgg[0].weight)
    assert torch.allclose(fused.core_extra.vgg[0].weight[:, 3:6], src.core_base.vgg[0].weight / 5)
    assert torch.equal(fused.core_extra.extras[7].weight, src.core_base.extras[7].weight)
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(DataError, match="no VGG tensors"):
        load_core(fused.core_base, str(tmp_path / "other.pth"))
