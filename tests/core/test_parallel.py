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


class _BadDataset:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise DataError("/data/features/v1/0903.h5", "expected features [n, 1024, t, h, w], got [8, 256]")
        return i


def test_data_error_from_a_dataloader_worker_keeps_its_one_line():
    import torch

    loader = torch.utils.data.DataLoader(_BadDataset(), batch_size=1, num_workers=1)
    with pytest.raises(DataError) as e:
        list(loader)
    assert str(e.value) == "/data/features/v1/0903.h5: expected features [n, 1024, t, h, w], got [8, 256]"
    assert e.value.path == "/data/features/v1/0903.h5"
    again = pickle.loads(pickle.dumps(e.value))
    assert str(again) == str(e.value)
