"""The recipe's flag handling and table format (the full recipe runs in `make demo`)."""

import json

from recipes.kinetics2stream import (
    _flag_value,
    _strip,
    _with_defaults,
    format_table,
    per_class_top1,
    pop_flag,
)


def test_extra_flags_override_recipe_defaults():
    out = _with_defaults(["--lr", "0.02", "--isize", "64", "-b", "16"], ["--isize=112", "--seed", "3"])
    assert out == ["--lr", "0.02", "-b", "16", "--isize=112", "--seed", "3"]
    assert _strip(["--root", "R", "--freeze_bn", "0", "--logger=none", "--lr", "0.1"], {"--freeze_bn", "--logger"}) == [
        "--root", "R", "--lr", "0.1"]

    # per-stream flags on top of the common ones, then the user's on top of both
    stream = _with_defaults(["--isize", "48", "--lr", "0.02"], ["--isize", "64", "--wd", "5e-4"])
    assert _with_defaults(stream, ["--wd=1e-3"]) == ["--lr", "0.02", "--isize", "64", "--wd=1e-3"]
    assert _flag_value(["--isize", "48", "--isize=64"], "--isize") == "64"


def test_fusion_weight_flag_is_taken_out_of_the_train_flags():
    assert pop_flag(["--seed", "3", "--fusion_weight", "0.25"], "--fusion_weight", 0.4) == (["--seed", "3"], 0.25)
    assert pop_flag(["--fusion_weight=0.7", "--seed", "3"], "--fusion_weight", 0.4) == (["--seed", "3"], 0.7)
    assert pop_flag(["--seed", "3"], "--fusion_weight", 0.4) == (["--seed", "3"], 0.4)


def test_table_columns_and_per_class(tmp_path):
    rows = {"RGB": {"f-top1": 50.04, "f-top3": 70.0, "v-top1": 60.0, "v-top5": 90.0, "mean-error": 25.0}}
    assert format_table(rows).splitlines() == ["| stream | f-top1 | f-top3 | v-top1 | v-top5 | mean-error |",
                                               "|---|---:|---:|---:|---:|---:|",
                                               "| RGB | 50.0 | 70.0 | 60.0 | 90.0 | 25.0 |"]
    annots = {"database": {"a": {"label": "x", "subset": "val"}, "b": {"label": "x", "subset": "val"},
                           "c": {"label": "y", "subset": "val"}, "t": {"label": "y", "subset": "train"}}}
    (tmp_path / "p.json").write_text(json.dumps({"results": {"a": [{"label": "x", "score": 1}],
                                                             "b": [{"label": "y", "score": 1}]}}))
    assert per_class_top1(annots, tmp_path / "p.json") == {"x": 50.0, "y": 0.0}
