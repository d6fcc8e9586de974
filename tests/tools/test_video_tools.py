"""tools/extract_frames.py, compute_flow.py, check_videos.py, crop_segments.py on tiny inputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.video import image_to_flow, read_image, write_jpeg, write_video

REPO = Path(__file__).resolve().parents[2]


def run_tool(name: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def ramp(n: int, h: int = 32, w: int = 48) -> np.ndarray:
    """Frame i is flat grey 10 + 18*(i % 13): the index survives lossy coding."""
    levels = 10 + 18 * (np.arange(n) % 13)
    return np.broadcast_to(levels[:, None, None, None], (n, h, w, 3)).astype(np.uint8).copy()


def index_of(img: np.ndarray) -> int:
    return int(round((img.mean() - 10) / 18))


def error_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def videos(tmp_path):
    root = tmp_path / "videos"
    write_video(root / "a.mp4", ramp(13), fps=25)  # 0.52 s
    write_video(root / "cls" / "b.avi", ramp(25), fps=25, codec="mpeg4")  # 1.0 s
    return root


def test_extract_frames_tool(tmp_path, videos):
    out = tmp_path / "rgb"
    r = run_tool("extract_frames.py", "--videos", videos, "--out", out, "--fps", 10, "--workers", 2)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out / "a")) == [f"{i:05d}.jpg" for i in range(1, 6)]
    assert len(os.listdir(out / "cls" / "b")) == 10  # 1 s at 10 fps, sub-folder mirrored
    assert [index_of(read_image(out / "a" / f"{i:05d}.jpg")) for i in range(1, 6)] == [1, 3, 6, 8, 11]

    # resumable: finished folders are not rewritten; a corrupt video is one error line, exit 2
    mtime = os.stat(out / "a" / "00001.jpg").st_mtime_ns
    (videos / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(2000))
    r = run_tool("extract_frames.py", "--videos", videos, "--out", out, "--fps", 10)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and str(videos / "broken.mp4") in errors[0]
    assert os.stat(out / "a" / "00001.jpg").st_mtime_ns == mtime
    assert not (out / "broken").exists()


def test_extract_frames_from_list_with_id_chars(tmp_path, videos):
    write_video(videos / "abcdefghijk_000010_000020.mp4", ramp(8), fps=25)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{videos / 'abcdefghijk_000010_000020.mp4'}\n\n")
    out = tmp_path / "rgb"
    r = run_tool("extract_frames.py", "--videos", listing, "--out", out, "--fps", 0, "--id_chars", 11)
    assert r.returncode == 0, r.stderr
    assert len(os.listdir(out / "abcdefghijk")) == 8


def test_check_videos_tool(tmp_path, videos):
    r = run_tool("check_videos.py", videos)
    assert r.returncode == 0 and r.stdout == ""
    data = (videos / "a.mp4").read_bytes()
    (videos / "cls" / "cut.mp4").write_bytes(data[: len(data) // 2])
    (videos / "noise.webm").write_bytes(np.random.default_rng(1).bytes(3000))
    r = run_tool("check_videos.py", videos, "--workers", 2)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and "Traceback" not in r.stderr
    assert lines[0].startswith(str(videos / "cls" / "cut.mp4") + ": ")
    assert lines[1].startswith(str(videos / "noise.webm") + ": ")
    r = run_tool("check_videos.py", tmp_path / "nowhere")
    assert (
        r.returncode == 2
        and r.stderr.strip().startswith("error:")
        and len(r.stderr.strip().splitlines()) == 1
    )


def test_compute_flow_tool(tmp_path):
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (64, 80)).astype(np.float32), (0, 0), 2.0).astype(np.uint8)
    frames_root = tmp_path / "rgb"
    for vid in ("cls/v1", "v2"):
        for i in range(3):
            frame = np.roll(base, shift=(-i, 2 * i), axis=(0, 1))
            write_jpeg(
                frames_root / vid / f"{i + 1:05d}.jpg", np.repeat(frame[..., None], 3, -1), quality=100
            )
    out = tmp_path / "flow"
    r = run_tool("compute_flow.py", "--frames", frames_root, "--out", out, "--workers", 2)
    assert r.returncode == 0, r.stderr
    for vid in ("cls/v1", "v2"):
        assert sorted(os.listdir(out / vid)) == ["00001.jpg", "00002.jpg", "00003.jpg"]
    flow = image_to_flow(read_image(out / "v2" / "00001.jpg"))
    np.testing.assert_allclose(np.median(flow[10:-10, 10:-10].reshape(-1, 2), 0), [2, -1], atol=0.15)

    r = run_tool("compute_flow.py", "--frames", frames_root, "--out", out)  # resume: nothing to do
    assert r.returncode == 0 and "2 of 2 folders" in r.stderr

    (frames_root / "v3").mkdir()
    (frames_root / "v3" / "00001.jpg").write_bytes(b"garbage")
    (frames_root / "v3" / "00002.jpg").write_bytes(b"garbage")
    r = run_tool("compute_flow.py", "--frames", frames_root, "--out", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and "00001.jpg: not a decodable image" in errors[0]


def test_crop_segments_tool(tmp_path):
    movies = tmp_path / "movies"
    write_video(movies / "movieA.mp4", ramp(104), fps=25)  # 4.16 s
    csv = tmp_path / "ava_val.csv"
    csv.write_text(
        "movieA,0002,0.1,0.1,0.5,0.5,12,0\n"
        "movieA,0002,0.2,0.2,0.6,0.6,80,1\n"
        "movieA,0003,0.1,0.1,0.5,0.5,12,0\n"
    )
    out = tmp_path / "segments"
    r = run_tool("crop_segments.py", "--movies", movies, "--csv", csv, "--split", "val", "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out / "val" / "clips" / "movieA")) == ["0002.mp4", "0003.mp4"]
    assert index_of(read_image(out / "val" / "midframes" / "movieA" / "0003.jpg")) == 75 % 13

    # test split: every second of a range minus the exclusions; a missing movie is an error line
    excl = tmp_path / "excluded.csv"
    excl.write_text("movieA,0002\n")
    csv.write_text("movieB,0002,0.1,0.1,0.5,0.5,12,0\n")
    r = run_tool(
        "crop_segments.py",
        "--movies",
        movies,
        "--test_range",
        1,
        3,
        "--exclusions",
        excl,
        "--split",
        "test",
        "--out",
        out,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out / "test" / "midframes" / "movieA")) == ["0001.jpg", "0003.jpg"]
    r = run_tool("crop_segments.py", "--movies", movies, "--csv", csv, "--split", "val", "--out", out)
    assert r.returncode == 2 and "no movie file for video id 'movieB'" in r.stderr

    csv.write_text("movieA,abc,0.1,0.1,0.5,0.5,12,0\n")
    r = run_tool("crop_segments.py", "--movies", movies, "--csv", csv, "--split", "val", "--out", out)
    assert r.returncode == 2 and r.stderr.strip() == f"error: {csv}: row 1: timestamp 'abc' is not a number"


def test_crop_segments_with_cut_movies(tmp_path):
    # a movie cut to start at second 900 (as AVA frames/videos often are): keyframe 902 is second 2 of the file
    movies = tmp_path / "movies"
    write_video(movies / "movieA.mp4", ramp(104), fps=25)
    csv = tmp_path / "ava_val.csv"
    csv.write_text("movieA,0903,0.1,0.1,0.5,0.5,12,0\n")
    out = tmp_path / "segments"
    r = run_tool("crop_segments.py", "--movies", movies, "--csv", csv, "--split", "val", "--out", out,
                 "--video_start", 900)
    assert r.returncode == 0, r.stderr
    assert os.listdir(out / "val" / "clips" / "movieA") == ["0903.mp4"]
    assert index_of(read_image(out / "val" / "midframes" / "movieA" / "0903.jpg")) == 75 % 13
