"""core.video: decoding backends, corrupt files, encoding, frame extraction, segments, flow."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from core.errors import DataError
from core.video import (
    FFMPEG_QSCALE15_QUALITY,
    check_video,
    crop_segment,
    encode_mjpeg,
    extract_frames,
    farneback_flow,
    flow_folder,
    flow_to_image,
    frame_at,
    image_to_flow,
    iter_frames,
    read_image,
    read_video,
    resample_slots,
    tvl1_available,
    tvl1_flow,
    video_flow,
    write_jpeg,
    write_video,
)


def gray_ramp_video(n: int, h: int = 32, w: int = 48) -> np.ndarray:
    """Frame i is a flat grey of level 10 + 18*i (mod 240): its index can be read back from the mean
    even after lossy coding."""
    levels = (10 + 18 * np.arange(n)) % 240
    return np.broadcast_to(levels[:, None, None, None], (n, h, w, 3)).astype(np.uint8).copy()


def frame_index(frames: np.ndarray) -> np.ndarray:
    """Inverse of gray_ramp_video for videos of < 14 frames."""
    return np.rint((frames.reshape(len(frames), -1).mean(1) - 10) / 18).astype(int)


def smooth_video(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    t = np.arange(n)[:, None, None]
    r = 128 + 100 * np.sin(xx / 7.0 + t / 3.0)
    g = 128 + 100 * np.cos(yy / 5.0 - t / 4.0)
    b = 128 + 80 * np.sin((xx + yy) / 9.0)
    b = np.broadcast_to(b, r.shape)
    return np.stack([r, g, b], -1).astype(np.uint8)


def texture(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    noise = rng.uniform(0, 255, (h, w)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0).clip(0, 255).astype(np.uint8)


# ---------------------------------------------------------------- flow quantisation


def test_flow_to_image_hand_values():
    flow = np.array([[[1.0, -0.5], [3.0, 4.0], [-8.0, 8.0], [0.03125, 0.09375], [0.0, 0.0]]], np.float32)
    img = flow_to_image(flow, bound=8)
    # R = x*16+128, G = y*16+128, B = |flow|*16+128, clipped, rounded half to even (cvRound).
    expected = np.array(
        [
            [
                [144, 120, 146],  # |(1,-0.5)| = 1.1180 -> 145.89
                [176, 192, 208],  # |(3,4)| = 5 -> 208
                [0, 255, 255],  # 256 and 309 clip to 255
                [128, 130, 130],  # 128.5 -> 128, 129.5 -> 130, |.| = 0.0988*16+128 = 129.58 -> 130
                [128, 128, 128],
            ]
        ],
        np.uint8,
    )
    np.testing.assert_array_equal(img, expected)


def test_magnitude_channel_is_scaled_norm(rng):
    flow = rng.uniform(-5, 5, (20, 30, 2)).astype(np.float32)
    img = flow_to_image(flow)
    mag = np.sqrt(flow[..., 0].astype(np.float64) ** 2 + flow[..., 1] ** 2) * 16 + 128
    assert np.abs(img[..., 2] - mag).max() <= 0.5 + 1e-4


def test_bound_uses_integer_division():
    # 128 // 20 = 6 (the original's int arithmetic), not 6.4
    img = flow_to_image(np.array([[[1.0, -2.0]]], np.float32), bound=20)
    np.testing.assert_array_equal(img[0, 0], [134, 116, 141])  # sqrt(5)*6 = 13.42
    np.testing.assert_allclose(image_to_flow(img, bound=20)[0, 0], [1.0, -2.0])


def test_flow_quantisation_round_trip_within_a_sixteenth(rng):
    flow = rng.uniform(-7.999, 7.999, (64, 64, 2)).astype(np.float32)
    back = image_to_flow(flow_to_image(flow))
    assert back.dtype == np.float32 and back.shape == flow.shape
    assert np.abs(back - flow).max() <= 1 / 16
    inner = np.abs(flow).max(-1) <= 7.96875
    assert np.abs(back - flow)[inner].max() <= 1 / 32 + 1e-6


def test_image_to_flow_hand_values():
    img = np.array([[[144, 120, 0], [0, 255, 0]]], np.uint8)
    np.testing.assert_allclose(image_to_flow(img), [[[1.0, -0.5], [-8.0, 7.9375]]])


# ---------------------------------------------------------------- optical flow


def test_farneback_recovers_translation(rng):
    prev = texture(rng)
    nxt = np.roll(prev, shift=(-1, 2), axis=(0, 1))  # content moves +2 in x, -1 in y
    flow = farneback_flow(prev, nxt)
    assert flow.dtype == np.float32 and flow.shape == prev.shape + (2,)
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [2.0, -1.0], atol=0.1)


def test_video_flow_last_frame_repeats_previous_pair(rng):
    base = texture(rng, 64, 80)
    frames = np.stack([np.roll(base, shift=(0, k), axis=(0, 1)) for k in (0, 1, 3)])
    frames = np.repeat(frames[..., None], 3, axis=-1)
    flow = video_flow(frames)
    assert flow.shape == (3, 64, 80, 2)
    med = np.median(flow[:, 10:-10, 10:-10].reshape(3, -1, 2), axis=1)
    np.testing.assert_allclose(med, [[1, 0], [2, 0], [2, 0]], atol=0.1)
    np.testing.assert_array_equal(flow[2], flow[1])
    with pytest.raises(ValueError, match="T >= 2"):
        video_flow(frames[:1])


def test_tvl1_available_or_names_the_package(rng, monkeypatch):
    prev = texture(rng, 64, 64)
    nxt = np.roll(prev, shift=(0, 1), axis=(0, 1))
    if tvl1_available():
        flow = tvl1_flow(prev, nxt)
        np.testing.assert_allclose(np.median(flow[10:-10, 10:-10].reshape(-1, 2), 0), [1, 0], atol=0.15)
    else:
        with pytest.raises(RuntimeError, match="opencv-contrib-python-headless"):
            tvl1_flow(prev, nxt)


# ---------------------------------------------------------------- encode / decode


@pytest.mark.parametrize("name,codec", [("a.mp4", "libx264"), ("a.avi", "mpeg4"), ("a.webm", "libvpx-vp9")])
@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_write_read_round_trip(tmp_path, name, codec, backend):
    frames = smooth_video(12)
    write_video(tmp_path / name, frames, fps=25, codec=codec)
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left behind
    out, fps = read_video(tmp_path / name, backend=backend)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert fps == pytest.approx(25.0)
    # lossy 4:2:0 coding of saturated colour waves: ~5 grey levels; swapped channels would give ~60
    assert np.abs(out.astype(int) - frames).mean() < 8.0
    assert check_video(tmp_path / name, backend) == 12


def test_odd_frame_size_round_trips(tmp_path):
    frames = smooth_video(5, 47, 63)
    write_video(tmp_path / "odd.mp4", frames, fps=10)
    out, _ = read_video(tmp_path / "odd.mp4")
    assert out.shape == frames.shape and np.abs(out.astype(int) - frames).mean() < 8.0


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_time_range_selects_frames(tmp_path, backend):
    path = tmp_path / "ramp.mp4"
    write_video(path, gray_ramp_video(13), fps=25)
    out, _ = read_video(
        path, backend=backend, start_sec=0.2, end_sec=0.36
    )  # frames at 0.20, 0.24, 0.28, 0.32
    np.testing.assert_array_equal(frame_index(out), [5, 6, 7, 8])
    assert list(frame_index(np.stack(list(iter_frames(path, backend=backend))))) == list(range(13))
    with pytest.raises(DataError, match="no video frames"):
        read_video(path, backend=backend, start_sec=5.0)


def test_frame_at_is_first_frame_at_or_after(tmp_path):
    path = tmp_path / "ramp.mp4"
    write_video(path, gray_ramp_video(13), fps=25)
    assert frame_index(frame_at(path, 0.2)[None])[0] == 5
    assert frame_index(frame_at(path, 0.21)[None])[0] == 6


def _one_line_naming(err: DataError, path) -> None:
    msg = str(err)
    assert "\n" not in msg and str(path) in msg


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_corrupt_videos_raise_one_line_data_error(tmp_path, rng, backend):
    good = tmp_path / "good.mp4"
    write_video(good, rng.integers(0, 256, (40, 32, 48, 3), dtype=np.uint8), fps=25)
    data = good.read_bytes()
    cases = {
        "truncated.mp4": data[: len(data) // 2],
        "random.mp4": rng.bytes(4000),
        "empty.mp4": b"",
    }
    avi = tmp_path / "good.avi"
    write_video(avi, rng.integers(0, 256, (40, 32, 48, 3), dtype=np.uint8), fps=25, codec="mpeg4")
    cases["truncated.avi"] = avi.read_bytes()[: avi.stat().st_size // 3]
    for name, blob in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(DataError) as e:
            read_video(path, backend=backend)
        _one_line_naming(e.value, path)
    with pytest.raises(DataError, match="truncated: decoded") as e:
        check_video(tmp_path / "truncated.avi", backend)
    with pytest.raises(DataError, match="not found") as e:
        read_video(tmp_path / "missing.mp4", backend=backend)
    _one_line_naming(e.value, tmp_path / "missing.mp4")


def test_truncated_webm_detected_by_duration(tmp_path, rng):
    path = tmp_path / "v.webm"
    write_video(path, rng.integers(0, 256, (75, 32, 48, 3), dtype=np.uint8), fps=25, codec="libvpx-vp9")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(DataError, match=r"truncated: frames end at .* of a 3.00 s video"):
        check_video(path)


def test_frames_backend(tmp_path):
    frames = smooth_video(4, 24, 32)
    folder = tmp_path / "v"
    folder.mkdir()
    for i, f in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"{i:05d}.png"), f[..., ::-1])  # written by OpenCV itself: BGR
    out, fps = read_video(folder, backend="frames")
    np.testing.assert_array_equal(out, frames)  # PNG is lossless, and RGB order is kept
    assert fps == 0.0
    out, fps = read_video(folder, backend="frames", fps=10, start_sec=0.1, end_sec=0.3)
    np.testing.assert_array_equal(out, frames[1:3])
    assert fps == 10.0
    os.remove(folder / "00003.png")
    with pytest.raises(DataError, match="missing frame 00003.png"):
        read_video(folder, backend="frames")
    with pytest.raises(DataError, match="frame folder not found"):
        read_video(tmp_path / "nope", backend="frames")


def test_images_rgb_order_and_errors(tmp_path):
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 250  # red
    write_jpeg(tmp_path / "r.jpg", img)
    back = read_image(tmp_path / "r.jpg")
    assert back.shape == (8, 8, 3) and back[..., 0].min() > 240 and back[..., 2].max() < 10
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="bad.jpg: not a decodable image"):
        read_image(tmp_path / "bad.jpg")
    with pytest.raises(DataError, match="image file not found"):
        read_image(tmp_path / "none.jpg")


# ---------------------------------------------------------------- extraction and segments


def test_resample_slots_hand_cases():
    # 25 -> 10 fps, 13 frames (0.52 s): input slots round(0.4 i) = 0,0,1,1,2,2,2,3,3,4,4,4,5; 5 output
    # slots (round(5.2)); slot k shows the last input frame whose slot <= k.
    np.testing.assert_array_equal(resample_slots(np.arange(13) / 25, 10, 25), [1, 3, 6, 8, 11])
    # 10 -> 25 fps, 4 frames: input slots round(2.5 i), halves up = 0, 3, 5, 8; 10 output slots.
    np.testing.assert_array_equal(resample_slots(np.arange(4) / 10, 25, 10), [0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    np.testing.assert_array_equal(resample_slots(np.arange(5) / 25, 25, 25), np.arange(5))


def test_extract_frames_at_fps(tmp_path):
    video = tmp_path / "ramp.mp4"
    write_video(video, gray_ramp_video(13), fps=25)
    out = tmp_path / "frames" / "ramp"
    assert extract_frames(video, out, fps=10) == 5
    names = sorted(os.listdir(out))
    assert names == ["00001.jpg", "00002.jpg", "00003.jpg", "00004.jpg", "00005.jpg"]
    got = np.stack([read_image(out / n) for n in names])
    np.testing.assert_array_equal(frame_index(got), [1, 3, 6, 8, 11])
    assert not any(n.startswith(".") for n in os.listdir(out.parent))  # staging folder renamed away

    # resumable: a complete folder is left untouched
    mtime = os.stat(out / "00001.jpg").st_mtime_ns
    assert extract_frames(video, out, fps=10) == 5
    assert os.stat(out / "00001.jpg").st_mtime_ns == mtime

    assert extract_frames(video, tmp_path / "native", fps=None, pattern="%06d.jpg", start_number=0) == 13
    assert sorted(os.listdir(tmp_path / "native"))[:2] == ["000000.jpg", "000001.jpg"]


def test_extract_frames_corrupt_video_leaves_nothing(tmp_path, rng):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(rng.bytes(3000))
    with pytest.raises(DataError) as e:
        extract_frames(bad, tmp_path / "out" / "bad")
    _one_line_naming(e.value, bad)
    assert not (tmp_path / "out" / "bad").exists()


def _dqt_table(jpeg: bytes) -> np.ndarray:
    i = jpeg.index(b"\xff\xdb")
    return np.frombuffer(jpeg[i + 5 : i + 5 + 64], np.uint8)  # 8-bit table, zig-zag order


def test_qscale_mapping(rng):
    img = np.stack([texture(rng, 240, 320) for _ in range(3)], -1)
    jpeg = encode_mjpeg(img, qscale=15)
    # FFmpeg -qscale:v 15: the MPEG-1 intra matrix (zig-zag 8,16,16,19,16,19,22,22,...) x 15/8, DC 8.
    np.testing.assert_array_equal(_dqt_table(jpeg)[:8], [8, 30, 30, 35, 30, 35, 41, 41])
    ffmpeg_psnr = cv2.PSNR(cv2.imdecode(np.frombuffer(jpeg, np.uint8), 1)[..., ::-1], img)
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, FFMPEG_QSCALE15_QUALITY])
    ours = cv2.PSNR(cv2.imdecode(buf, 1)[..., ::-1], img)
    assert abs(ours - ffmpeg_psnr) < 1.5


def test_crop_segment_every_frame_a_keyframe(tmp_path):
    import av

    frames = gray_ramp_video(13, 32, 48)
    frames = np.concatenate([frames] * 8)  # 104 frames = 4.16 s at 25 fps; index = position mod 13
    video = tmp_path / "movie.mp4"
    write_video(video, frames, fps=25)
    clip, jpg = tmp_path / "clips" / "movie" / "0002.mp4", tmp_path / "mid" / "movie" / "0002.jpg"
    assert crop_segment(video, clip, 2.0, keyframe_path=jpg) == 50  # t in [1.0, 3.0)
    out, fps = read_video(clip)
    assert len(out) == 50 and fps == pytest.approx(25.0)
    np.testing.assert_array_equal(frame_index(out), np.arange(25, 75) % 13)
    assert frame_index(read_image(jpg)[None])[0] == 50 % 13
    with av.open(str(clip)) as c:
        assert all(p.is_keyframe for p in c.demux(video=0) if p.size)
    with pytest.raises(DataError, match="no frames"):
        crop_segment(video, tmp_path / "late.mp4", 30.0)


def test_flow_folder_mirrors_names_and_resumes(tmp_path, rng):
    base = texture(rng, 64, 80)
    src = tmp_path / "rgb" / "v1"
    src.mkdir(parents=True)
    for i in range(3):
        frame = np.roll(base, shift=(-i, 2 * i), axis=(0, 1))
        write_jpeg(src / f"{i + 1:05d}.jpg", np.repeat(frame[..., None], 3, -1), quality=100)
    out = tmp_path / "flow" / "v1"
    assert flow_folder(src, out) == 3
    assert sorted(os.listdir(out)) == ["00001.jpg", "00002.jpg", "00003.jpg"]
    flow = image_to_flow(read_image(out / "00002.jpg"))
    np.testing.assert_allclose(np.median(flow[10:-10, 10:-10].reshape(-1, 2), 0), [2, -1], atol=0.15)
    mtime = os.stat(out / "00001.jpg").st_mtime_ns
    assert flow_folder(src, out) == 3 and os.stat(out / "00001.jpg").st_mtime_ns == mtime
