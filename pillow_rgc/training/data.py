"""Training patches from a folder of photos.

All photos are decoded once into memory (a few hundred photos of at most
1024 px fit easily) and patches are cut at random. Half of the patches are
"high-entropy" ones, the most detailed of a few random candidates, as the
paper samples the patches that PNG compresses worst: flat sky teaches the
codec little.

``downscale=2`` halves every photo that stays big enough for a patch (with
Lanczos filtering, as learned-compression work does with its training sets):
the training photos here are all JPEGs, whose finest detail is the coder's
quantisation noise; halving them averages that away and leaves real detail at
the pixel scale, as in the PNG photos the codec is judged on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .photos import list_images, load_rgb


class PatchSampler:
    """Random (N,3,P,P) float patches in [-0.5, 0.5] from photos held in memory."""

    def __init__(
        self, folder: str | Path, patch: int, seed: int = 0, candidates: int = 4, downscale: int = 1
    ):
        photos = (downscaled(photo, downscale, patch) for photo in map(load_rgb, list_images(folder)))
        self.photos = [p for p in photos if min(p.shape[:2]) >= patch]
        if not self.photos:
            raise ValueError(f"no image in {folder} is at least {patch}x{patch}")
        self.patch = patch
        self.candidates = candidates
        self.rng = np.random.default_rng(seed)

    def _random_crop(self) -> np.ndarray:
        photo = self.photos[self.rng.integers(len(self.photos))]
        y = self.rng.integers(photo.shape[0] - self.patch + 1)
        x = self.rng.integers(photo.shape[1] - self.patch + 1)
        return photo[y : y + self.patch, x : x + self.patch]

    def _detailed_crop(self) -> np.ndarray:
        crops = [self._random_crop() for _ in range(self.candidates)]
        detail = [np.abs(np.diff(c.astype(np.int16), axis=1)).mean() for c in crops]
        return crops[int(np.argmax(detail))]

    def batch(self, size: int) -> torch.Tensor:
        crops = []
        for i in range(size):
            crop = self._detailed_crop() if i % 2 else self._random_crop()
            if self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            crops.append(crop)
        array = np.stack(crops).astype(np.float32) / 255.0 - 0.5
        return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def downscaled(photo: np.ndarray, factor: int, patch: int) -> np.ndarray:
    """``photo`` shrunk ``factor`` times when a patch still fits in it, else as it is."""
    height, width = photo.shape[:2]
    if factor == 1 or min(height, width) // factor < patch:
        return photo
    image = Image.fromarray(photo).resize((width // factor, height // factor), Image.Resampling.LANCZOS)
    return np.asarray(image)
