"""Folders of photos, shared by training and evaluation (no torch here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder``, sorted so runs are repeatable."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no images in {folder}")
    return paths


def load_rgb(path: str | Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def centre_crop(pixels: np.ndarray, side: int) -> np.ndarray:
    """The centred ``side`` x ``side`` part of an (H, W, ...) picture (all of a shorter side)."""
    height, width = pixels.shape[:2]
    top, left = (height - min(height, side)) // 2, (width - min(width, side)) // 2
    return pixels[top : top + side, left : left + side]


def centre_crops(folder: str | Path, side: int, limit: int | None = None) -> list[np.ndarray]:
    """RGB ``side`` x ``side`` centre crops of the first ``limit`` images of ``folder`` big enough for one."""
    crops = []
    for path in list_images(folder):
        pixels = load_rgb(path)
        if min(pixels.shape[:2]) >= side:
            crops.append(centre_crop(pixels, side))
        if len(crops) == limit:
            break
    return crops
