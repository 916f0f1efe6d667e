"""pillow-rgc: a learned, progressive image codec (residual GRU) that plugs into Pillow.

``import pillow_rgc`` registers the ``.rgc`` format with Pillow, so
``Image.open("photo.rgc")`` and ``im.save("photo.rgc", quality=0.9)`` work.
The same codec is available without Pillow's file handling as
:func:`encode`, :func:`decode`, :func:`info` and :func:`truncate`.
"""

from .api import DEFAULT_QUALITY, decode, encode, info, truncate
from .container import RGCFormatError
from .models import DEFAULT_MODEL, ModelError, add_model_path, installed_models
from .modes import UnsupportedImageError
from .plugin import register as _register

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_QUALITY",
    "ModelError",
    "RGCFormatError",
    "UnsupportedImageError",
    "add_model_path",
    "decode",
    "encode",
    "info",
    "installed_models",
    "truncate",
]

_register()
