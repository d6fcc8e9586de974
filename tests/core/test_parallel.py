import pickle

import pytest

from core.errors import DataError
from core.parallel import map_jobs, run_jobs


def square_or_fail(x):
    if x == 3:
        raise DataError(f"/data/v{x}.mp4", "truncated video", row="frame 7")
    if x == 5:
        raise ValueError("bad\nvalue")
    return x * x


def test_data_error_survives_pickling():
    e = pickle.loads(pickle.dumps(DataError("a.csv", "expected 8 columns", row="row 3")))
    assert str(e) == "a.csv: row 3: expected 8 columns" and e.path == "a.csv" and e.row == "row 3"


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_keeps_order_and_collects_one_line_errors(workers):
    res = run_jobs(square_or_fail, range(7), workers=workers, progress=False)
    assert [r.value for r in res] == [0, 1, 4, None, 16, None, 36]
    assert res[3].error == "/data/v3.mp4: frame 7: truncated video"
    assert res[5].error == "5: ValueError: bad value"


def test_map_jobs_raises_the_original_data_error():
    assert map_jobs(square_or_fail, [0, 1, 2], workers=2) == [0, 1, 4]
    with pytest.raises(DataError, match=r"^/data/v3.mp4: frame 7: truncated video$"):
        map_jobs(square_or_fail, [1, 3], workers=2)
