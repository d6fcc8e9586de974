"""AMTNet network: parameter counts derived from the layer list, shapes, and the heads against a slow
gather-then-linear reference (the original's SpatialPool + FeatPooling + nn.Linear)."""

import pytest
import torch
import torch.nn.functional as F

from amtnet.model import AMTNet, param_groups, parameter_counts

# (in, out, kernel) of every conv of one stream at width 1, written out from the SSD300 / VGG16 layer list.
VGG = [(3, 64, 3), (64, 64, 3), (64, 128, 3), (128, 128, 3), (128, 256, 3), (256, 256, 3), (256, 256, 3),
       (256, 512, 3), (512, 512, 3), (512, 512, 3), (512, 512, 3), (512, 512, 3), (512, 512, 3),
       (512, 1024, 3), (1024, 1024, 1)]
EXTRAS = [(1024, 256, 1), (256, 512, 3), (512, 128, 1), (128, 256, 3), (256, 128, 1), (128, 256, 3),
          (256, 128, 1), (128, 256, 3)]
SOURCES = [512, 1024, 512, 256, 256, 256]
ANCHORS = [4, 6, 6, 6, 4, 4]


def conv_params(layers, first_in=None):
    total = 0
    for i, (cin, cout, k) in enumerate(layers):
        if i == 0 and first_in is not None:
            cin = first_in
        total += cin * k * k * cout + cout
    return total


def expected(fusion, num_classes=25, seq_len=2, frames_base=1, frames_extra=5):
    core_base = conv_params(VGG, 3 * frames_base) + 512 + conv_params(EXTRAS)
    core_extra = conv_params(VGG, 3 * frames_extra) + 512 + conv_params(EXTRAS)
    mult = 2 if fusion == "cat" else 1
    ins = [c * seq_len * 9 * mult for c in SOURCES]
    loc = sum(n * a * 4 * seq_len + a * 4 * seq_len for n, a in zip(ins, ANCHORS))
    conf = sum(n * a * num_classes + a * num_classes for n, a in zip(ins, ANCHORS))
    out = {"core_base": core_base, "loc": loc, "conf": conf}
    if fusion != "none":
        out["core_extra"] = core_extra
    out["total"] = sum(out.values())
    return out


@pytest.mark.parametrize("fusion", ["none", "sum", "mean", "cat"])
def test_parameter_counts_full_width(fusion):
    torch.manual_seed(0)
    model = AMTNet(25, seq_len=2, fusion_type=fusion, input_frames_base=1, input_frames_extra=5, width=1.0)
    assert parameter_counts(model) == expected(fusion)
    # the linear head input sizes the spec lists for one stream
    if fusion != "cat":
        assert model.in_features == [9216, 18432, 9216, 4608, 4608, 4608]


def test_single_stream_number():
    # 22,943,936 backbone + 2,138,352 loc + 6,682,350 conf for UCF24 (25 outputs)
    assert expected("none")["total"] == 31_764_638


@pytest.mark.parametrize("fusion", ["none", "sum", "mean", "cat"])
def test_output_shapes_small_width(fusion):
    torch.manual_seed(0)
    model = AMTNet(22, seq_len=2, fusion_type=fusion, input_frames_base=1, input_frames_extra=5, width=1 / 32).eval()
    base = torch.randn(2, 2, 3, 300, 300)
    extra = torch.randn(2, 2, 15, 300, 300) if fusion != "none" else None
    with torch.no_grad():
        loc, conf = model(base, extra)
    assert loc.shape == (2, 8732, 8) and conf.shape == (2, 8732, 22)
    if fusion != "none":
        with pytest.raises(ValueError):
            model(base)


@pytest.mark.slow
def test_output_shapes_full_width():
    model = AMTNet(25, seq_len=2, fusion_type="none", width=1.0).eval()
    with torch.no_grad():
        loc, conf = model(torch.randn(1, 2, 3, 300, 300))
    assert loc.shape == (1, 8732, 8) and conf.shape == (1, 8732, 25)


def reference_heads(model, frames_maps, cat=False):
    """The original computation: per level, replication-pad 1, gather each cell's 3x3 neighbourhood
    (TL, T, TR, L, C, R, BL, B, BR, each a C-vector), concatenate the frames (and, for CAT, the base
    frames then the extra frames), apply the nn.Linear."""
    locs, confs = [], []
    for k in range(6):
        descs = []
        parts = [m[k] for m in frames_maps]
        if cat:
            c = parts[0].shape[1] // 2
            parts = [p[:, :c] for p in parts] + [p[:, c:] for p in parts]
        for x in parts:
            b, c, h, w = x.shape
            xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
            cells = []
            for i in range(h):
                for j in range(w):
                    taps = [xp[:, :, i + dy, j + dx] for dy in range(3) for dx in range(3)]
                    cells.append(torch.cat(taps, 1))  # [B, 9C]
            descs.append(torch.stack(cells, 1))  # [B, HW, 9C]
        d = torch.cat(descs, 2)
        locs.append(model.loc[k](d).reshape(d.shape[0], -1))
        confs.append(model.conf[k](d).reshape(d.shape[0], -1))
    b = locs[0].shape[0]
    return torch.cat(locs, 1).view(b, -1, 4 * model.seq_len), torch.cat(confs, 1).view(b, -1, model.num_classes)


@pytest.mark.parametrize("fusion", ["none", "sum", "cat"])
def test_heads_equal_gather_then_linear(fusion):
    torch.manual_seed(1)
    model = AMTNet(5, seq_len=2, fusion_type=fusion, width=1 / 64).double().eval()
    sizes = [6, 5, 4, 3, 2, 1]  # any sizes: the heads do not depend on the prior grid
    ch = [8, 16, 8, 4, 4, 4]
    mult = 2 if fusion == "cat" else 1
    maps = [[torch.randn(2, c * mult, s, s, dtype=torch.float64) for c, s in zip(ch, sizes)] for _ in range(2)]
    with torch.no_grad():
        loc, conf = model.heads(maps)
        rloc, rconf = reference_heads(model, maps, cat=fusion == "cat")
    assert torch.allclose(loc, rloc, atol=1e-9) and torch.allclose(conf, rconf, atol=1e-9)


def test_fusion_sum_mean_of_stream_maps():
    torch.manual_seed(2)
    m_sum = AMTNet(5, fusion_type="sum", width=1 / 32).eval()
    m_mean = AMTNet(5, fusion_type="mean", width=1 / 32).eval()
    m_mean.load_state_dict(m_sum.state_dict())
    base, extra = torch.randn(1, 2, 3, 300, 300), torch.randn(1, 2, 15, 300, 300)
    with torch.no_grad():
        fb = m_sum.features(base.flatten(0, 1))
        fe = m_sum.features(extra.flatten(0, 1), "extra")
        s = m_sum.fuse(fb, fe)
        m = m_mean.fuse(fb, fe)
    for a, b, x, y in zip(s, m, fb, fe):
        assert torch.allclose(a, x + y) and torch.allclose(b, (x + y) / 2)


def test_source_maps_divided_by_nine_and_sizes():
    torch.manual_seed(3)
    model = AMTNet(5, width=1 / 32).eval()
    with torch.no_grad():
        maps = model.features(torch.randn(1, 3, 300, 300))
        x = torch.randn(1, 3, 300, 300)
        core = model.core_base
        h = x
        for m in core.vgg[:23]:
            h = m(h)
        direct = core.L2Norm(h)
        assert torch.allclose(model.features(x)[0], direct / 9, atol=1e-6)
    assert [m.shape[-1] for m in maps] == [38, 19, 10, 5, 3, 1]


def test_backbone_params_get_lower_lr_groups():
    model = AMTNet(5, seq_len=2, fusion_type="sum", width=1 / 32)
    groups = {g["name"]: g for g in param_groups(model, 0.001, 1e-4)}
    assert groups["core_base.vgg.0.weight"]["lr"] == pytest.approx(0.0005)
    assert groups["core_base.vgg.0.bias"]["lr"] == pytest.approx(0.001)
    assert groups["core_base.vgg.0.bias"]["weight_decay"] == 0.0
    assert groups["core_extra.extras.0.weight"]["lr"] == pytest.approx(0.0005)
    assert groups["core_base.L2Norm.weight"]["lr"] == pytest.approx(0.0005)
    assert groups["loc.0.weight"]["lr"] == pytest.approx(0.001)
    assert groups["conf.3.bias"]["lr"] == pytest.approx(0.002)
    assert groups["conf.3.weight"]["weight_decay"] == 1e-4


def test_batch_norm_variant_layout_and_count():
    from core.backbones.vgg import conv4_3_end, vgg16_reducedfc

    plain, bn = vgg16_reducedfc(), vgg16_reducedfc(batch_norm=True)
    # ssd.pytorch indices: conv4_3 + ReLU end at 23; ten BatchNorms come before it with batch_norm
    assert conv4_3_end(plain) == 23 and conv4_3_end(bn) == 33
    assert len(plain) == 35 and len(bn) == 48
    # a BatchNorm (weight + bias) per VGG conv, not after conv6 / conv7: 2 * (2*64 + 2*128 + 3*256 + 6*512)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(bn) - count(plain) == 8448
    model = AMTNet(25, width=1 / 32, batch_norm=True).eval()
    maps = model.features(torch.zeros(1, 3, 300, 300))
    assert [tuple(m.shape[-2:]) for m in maps] == [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    assert maps[0].shape[1] == 16  # conv4_3 (512 / 32), through L2Norm


def test_video_runner_amp_matches_float32():
    """test.py --amp: bfloat16 network, float32 decoding; the micro-tubes and their boxes / scores agree with
    the float32 run to bfloat16 precision, and come out as float32."""
    from amtnet.engine import VideoRunner

    torch.manual_seed(0)
    model = AMTNet(5, width=1 / 32, batch_norm=True).eval()
    for name, p in model.named_parameters():
        if name.startswith(("loc", "conf")):  # heads start at zero: give the scores something to disagree on
            torch.nn.init.normal_(p, std=0.05)
    frames = torch.randn(4, 3, 300, 300) * 50
    batches = [(frames, torch.zeros(0), torch.zeros(4, dtype=torch.long), torch.arange(4))]
    runs = [list(VideoRunner(model, 2, 0, torch.device("cpu"), amp=amp).run(batches, {0: 4})) for amp in (False, True)]
    assert [(v, f) for v, f, _, _ in runs[0]] == [(v, f) for v, f, _, _ in runs[1]] and len(runs[0]) == 3
    for (_, _, b32, s32), (_, _, b16, s16) in zip(*runs):
        assert b16.dtype == s16.dtype == torch.float32
        assert s32.std() > 0.01  # not the uniform scores of an untrained head
        torch.testing.assert_close(s16, s32, atol=4e-2, rtol=0)
        assert (s16 - s32).abs().mean() < 3e-3
        torch.testing.assert_close(b16, b32, atol=3e-2, rtol=0)
