"""Shared fixtures: deterministic synthetic test pictures (no photos ship with the project)."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

import pillow_rgc  # noqa: F401  (registers the plugin)

TEST_MODEL = "rgc-tiny-test"

# Models that tests train go to a throw-away folder, never into the user's own model folder.
os.environ["RGC_USER_MODEL_DIR"] = tempfile.mkdtemp(prefix="rgc-test-models-")


@pytest.fixture(autouse=True, scope="session")
def encoders_own_bits():
    """Tests write with effort 0 unless they ask for more (``test_refinement.py`` does). Refined bits
    gain the tiny test models' first iteration and cost them later ones, and their priors, fitted
    on the encoder's own bits, code refined bits no better than raw ones: the tests of codings,
    silent cells and rate control would no longer see what they check."""
    from pillow_rgc import api

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "EFFORT", 0)
        yield


def writers_last_picture(
    model_id: str, pixels: np.ndarray, iterations: int, stop_psnr: float, effort: int = 0
):
    """(bitplanes, the picture the writer saw after the last) of ``pixels`` coded as ``pillow_rgc.encode``
    codes them with ``stop_psnr`` and ``effort``: what a reader must decode the file to."""
    from pillow_rgc import codec, models, silence

    model = models.load_model(model_id)
    seen = []

    def keep(bitplanes, reconstruction):
        seen.append(reconstruction.pixels())
        return True

    rule = silence.writer_rule(pixels, model.info.code_stride, stop_psnr)
    return codec.encode_pixels(model, pixels, iterations, keep, rule, effort), seen[-1]


def synthetic_photo(width: int = 96, height: int = 80, seed: int = 0) -> Image.Image:
    """Smooth gradients, hard edges and fine texture: the things a codec must get right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(x / 17.0 + seed),
            100 + 60 * np.cos(y / 13.0),
            140 + 50 * np.sin((x + y) / 23.0),
        ],
        axis=2,
    )
    base += rng.normal(0, 6, base.shape)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.SMOOTH)
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.2, height * 0.2, width * 0.6, height * 0.7), fill=(230, 200, 40))
    draw.rectangle((width * 0.55, height * 0.1, width * 0.9, height * 0.45), fill=(30, 60, 150))
    draw.line((0, height - 1, width - 1, 0), fill=(250, 250, 250), width=2)
    return image


@pytest.fixture
def photo() -> Image.Image:
    return synthetic_photo()


def photo_folder(folder, width: int, height: int, count: int = 3):
    """A new ``folder`` of ``count`` synthetic photos of one size (seeds 0 to count - 1)."""
    folder.mkdir()
    for seed in range(count):
        synthetic_photo(width, height, seed=seed).save(folder / f"photo{seed}.png")
    return folder


@pytest.fixture
def photos(tmp_path):
    """A folder of three small synthetic photos, for training and evaluation runs."""
    return photo_folder(tmp_path / "photos", 48, 40)
