import os
import pickle

import numpy as np
import pytest
import torch

from core.errors import DataError
from core.io import (
    UnsafePickleError,
    atomic_open,
    atomic_write_text,
    dump_pickle,
    load_weights,
    safe_load_pickle,
    safe_loads_pickle,
    torch_save_atomic,
)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_refuses_pickle_that_would_run_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"videos": [_Evil(marker)]}, protocol=2))
    with pytest.raises(UnsafePickleError, match="evil.pkl.*posix.system|evil.pkl.*os.system"):
        safe_load_pickle(path)
    assert not marker.exists()
    for payload in (b"cbuiltins\neval\n(S'1+1'\ntR.", b"c__builtin__\nexec\n(S'x=1'\ntR."):
        with pytest.raises(UnsafePickleError):
            safe_loads_pickle(payload)


def test_reads_python2_protocol2_pickle_with_numpy_arrays():
    # Bytes of `pickle.dumps({'numf': np.uint16(5), 'boxes': np.array([[1, 2], [3, 4]], np.uint16)}, 2)`
    # as Python 2.7 / numpy 1.x write them: strings are SHORT_BINSTRING ('U'), which Python 3 must decode
    # with latin1 for numpy to rebuild the array buffer.
    arr_state = b"\x01\x00\x02\x00\x03\x00\x04\x00"
    dtype = b"cnumpy\ndtype\nq\x04U\x02u2K\x00K\x01\x87Rq\x05(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    py2 = (
        b"\x80\x02}q\x00(U\x05boxesq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85U\x01b\x87R"
        b"q\x06(K\x01K\x02K\x02\x86" + dtype + b"\x89U\x08" + arr_state + b"tbU\x04numfq\x07cnumpy.core.multiarray\nscalar\nq\x08"
        + dtype.replace(b"q\x04", b"q\x09").replace(b"q\x05", b"q\x0a") + b"U\x02\x05\x00\x86Rq\x0bu."
    )
    obj = safe_loads_pickle(py2, "py2.pkl")
    assert obj["boxes"].dtype == np.uint16
    np.testing.assert_array_equal(obj["boxes"], [[1, 2], [3, 4]])
    assert int(obj["numf"]) == 5 and obj["numf"].dtype == np.uint16


def test_round_trip_of_dataset_like_pickle(tmp_path):
    data = {"v": {"label": 3, "numf": np.uint16(40), "annotations": [{"boxes": np.ones((2, 4), np.uint16)}]}}
    dump_pickle(tmp_path / "a.pkl", data)
    back = safe_load_pickle(tmp_path / "a.pkl")
    assert back["v"]["numf"] == 40 and back["v"]["annotations"][0]["boxes"].shape == (2, 4)


def test_truncated_pickle_is_a_one_line_data_error(tmp_path):
    p = tmp_path / "t.pkl"
    p.write_bytes(pickle.dumps({"a": list(range(100))}, protocol=2)[:20])
    with pytest.raises(DataError, match=r"t\.pkl: not a readable pickle"):
        safe_load_pickle(p)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(p, "w") as f:
            f.write("partial")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old\n"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]  # no temp file left behind


def test_load_weights_only(tmp_path):
    good = tmp_path / "w.pth"
    torch_save_atomic({"conv.weight": torch.ones(2, 2)}, good)
    assert torch.equal(load_weights(good)["conv.weight"], torch.ones(2, 2))
    bad = tmp_path / "bad.pth"
    torch.save({"obj": _Evil(tmp_path / "x")}, bad)
    with pytest.raises(DataError, match="bad.pth: not a loadable weights-only checkpoint"):
        load_weights(bad)
    assert not (tmp_path / "x").exists()
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.pth")
