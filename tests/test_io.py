import os

import imageio.v2 as iio
import numpy as np
import pytest
import torch

from engine.io import VideoReadError, read_video, save_frame_grid, write_video
from engine.files import atomic_path
from engine.world import prompt_to_spec, render


@pytest.fixture(scope="module")
def video():
    return render(prompt_to_spec("a red star rotating on a checkerboard", 0), 64, 8, 16)


@pytest.mark.parametrize("suffix, tolerance", [(".mp4", 0.03), (".gif", 0.02)])
def test_round_trip(tmp_path, video, suffix, tolerance):
    path = write_video(tmp_path / f"clip{suffix}", video, fps=8)
    back, fps = read_video(path)
    assert back.shape == video.shape
    assert (back - video).abs().mean() < tolerance
    assert fps == pytest.approx(8, rel=0.05)
    assert oct(path.stat().st_mode & 0o777) != oct(0o600), "finished files get the usual permissions"
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{suffix}"], "no temporary file left"


def test_mp4_is_h264_yuv420p_for_browsers(tmp_path, video):
    path = write_video(tmp_path / "clip.mp4", video, fps=8)
    with iio.get_reader(path, format="FFMPEG") as r:
        meta = r.get_meta_data()
    assert meta["codec"] == "h264" and "yuv420p" in meta.get("pix_fmt", "yuv420p")


def test_reads_webm(tmp_path, video):
    path = tmp_path / "clip.webm"
    with iio.get_writer(path, format="FFMPEG", fps=8, codec="libvpx-vp9", macro_block_size=1) as w:
        for frame in (video.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8):
            w.append_data(frame)
    back, fps = read_video(path)
    assert back.shape == video.shape and (back - video).abs().mean() < 0.05


def test_odd_sizes_are_padded_to_even_for_h264(tmp_path):
    v = render(prompt_to_spec("a red circle", 0), (33, 45), 8, 3)
    back, _ = read_video(write_video(tmp_path / "odd.mp4", v))
    assert back.shape == (3, 3, 34, 46)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "no file"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("not a video"), "could not read"),
])
def test_unreadable_files_get_clear_errors(tmp_path, make, fragment):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(VideoReadError, match=fragment):
        read_video(path)


def test_truncated_and_misnamed_files(tmp_path, video):
    full = write_video(tmp_path / "full.mp4", video).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(full[: len(full) // 2])
    with pytest.raises(VideoReadError, match="complete mp4"):
        read_video(tmp_path / "cut.mp4")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VideoReadError, match="not a video file name"):
        read_video(tmp_path / "notes.txt")


def test_limits_on_frames_and_pixels(tmp_path, video):
    path = write_video(tmp_path / "clip.mp4", video)
    with pytest.raises(VideoReadError, match="more than 4 frames"):
        read_video(path, max_frames=4)
    with pytest.raises(VideoReadError, match="pixels a frame"):
        read_video(path, max_pixels=32 * 32)


def test_failed_write_leaves_nothing(tmp_path, video):
    bad = video.clone()
    bad[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        write_video(tmp_path / "x.mp4", bad)
    with pytest.raises(ValueError, match="mp4 or .gif"):
        write_video(tmp_path / "x.avi", video)
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "y.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed midway")
    assert list(tmp_path.iterdir()) == []


def test_frame_grid_png(tmp_path, video):
    from PIL import Image

    path = save_frame_grid(tmp_path / "grid.png", [video[:4], video[4:8]], scale=1)
    assert Image.open(path).size == (4 * 64, 2 * 64)
