"""Find, verify and load the codec models (ONNX graphs) with onnxruntime.

A model is a folder holding ``encoder.onnx``, ``decoder.onnx`` and
``model.json``, and, for models that can write ITER coding 3, the weights of
its context prior (``context_prior.bin``, declared in ``model.json``). Its id
names it and the SHA-256 of its graphs (and prior) guards it: every ``.rgc``
file records both, and a file is only decoded by the model whose files hash
to the recorded value, since another model (or a changed one) would turn the
same bits into a different picture, or the same payload into other bits.

Models are looked up, in order, in the folders given to :func:`add_model_path`,
in the ``RGC_MODEL_PATH`` environment variable (``os.pathsep``-separated), in
the user's model folder (:func:`user_model_dir`, where ``rgc train`` puts the
models it makes) and in the ``weights`` folder installed with the package.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime

from .prior_coding import PRIOR_FILE, ContextPrior

MODEL_FILE = "model.json"
GRAPH_FILES = ("encoder.onnx", "decoder.onnx")
SYNTHESIS_FILE = "synthesis.onnx"  # one-shot models only: the last decoder state -> the picture
DEFAULT_MODEL = "rgc-oneshot-10"

#: onnxruntime threads per session; set before the first encode or decode.
THREADS = min(2, os.cpu_count() or 1)

_PACKAGE_DIR = Path(__file__).resolve().parent
_BUILTIN_DIRS = (_PACKAGE_DIR / "weights", _PACKAGE_DIR.parent / "weights")
_extra_dirs: list[Path] = []
_loaded: dict[str, LoadedModel] = {}
_lock = threading.Lock()


class ModelError(OSError):
    """A model is missing, unknown or does not match the file that asks for it."""


def add_model_path(folder: str | os.PathLike) -> None:
    """Search ``folder`` (holding one sub-folder per model) before the installed models."""
    _extra_dirs.insert(0, Path(folder))


def user_model_dir() -> Path:
    """Where a user's own models live: ``RGC_USER_MODEL_DIR``, else ``$XDG_DATA_HOME/pillow-rgc/models``."""
    if os.environ.get("RGC_USER_MODEL_DIR"):
        return Path(os.environ["RGC_USER_MODEL_DIR"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "pillow-rgc" / "models"


def model_hash(folder: str | os.PathLike) -> str:
    """SHA-256 (hex) of the encoder graph, the decoder graph, the synthesis graph of a one-shot model
    and then the context prior, each if there is one.

    Models without a prior hash their two graphs alone, so their hashes (and the files that record
    them) are what they were before priors existed.
    """
    digest = hashlib.sha256()
    optional = [Path(folder) / name for name in (SYNTHESIS_FILE, PRIOR_FILE)]
    for path in [*(Path(folder) / name for name in GRAPH_FILES), *(p for p in optional if p.is_file())]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What ``model.json`` says of an installed model; no graph is loaded."""

    id: str
    folder: Path
    sha256: str
    code_channels: int
    code_stride: int
    iterations: int
    description: str
    card: dict
    has_prior: bool = False
    one_shot: bool = False

    @classmethod
    def from_folder(cls, folder: Path) -> ModelInfo:
        card = json.loads((folder / MODEL_FILE).read_text())
        return cls(
            id=card["id"],
            folder=folder,
            sha256=card["sha256"],
            code_channels=card["architecture"]["code_channels"],
            code_stride=card["code_stride"],
            iterations=card["iterations"],
            description=card.get("description", ""),
            card=card,
            has_prior="context_prior" in card,
            one_shot=bool(card["architecture"].get("synthesis")),
        )


def _search_dirs() -> list[Path]:
    env = [Path(p) for p in os.environ.get("RGC_MODEL_PATH", "").split(os.pathsep) if p]
    return [*_extra_dirs, *env, user_model_dir(), *_BUILTIN_DIRS]


def installed_models() -> dict[str, ModelInfo]:
    """Every model found on the search path, by id (the first found wins)."""
    found: dict[str, ModelInfo] = {}
    for root in _search_dirs():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if (folder / MODEL_FILE).is_file() and folder.name not in found:
                info = ModelInfo.from_folder(folder)
                found.setdefault(info.id, info)
    return found


def find_model(model_id: str) -> ModelInfo:
    models = installed_models()
    if model_id not in models:
        raise ModelError(
            f"model {model_id!r} is not installed (installed: {', '.join(sorted(models)) or 'none'}); "
            "add its folder with pillow_rgc.add_model_path() or RGC_MODEL_PATH"
        )
    return models[model_id]


def graph_session(graph: Path | bytes) -> onnxruntime.InferenceSession:
    """An onnxruntime session of one graph (a file, or a graph's bytes) with the runtime's options (also
    what benchmarks time)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: inside other people's pipelines (thread pools,
    # busy servers) spinning burned CPU others needed; 768x512 decode steps took 20 % less
    # wall time and CPU without it on a loaded machine (benchmarks/speed.py session).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # onnxruntime's memory pattern pre-plans one block for every intermediate tensor: for a
    # 1008x1008 tile it took the decoder's peak from 545 MB to 935 MB for no measurable speed.
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    source = graph if isinstance(graph, bytes) else str(graph)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def with_confidence(encoder: Path) -> bytes:
    """The encoder graph with one more output, ``confidence``: the binarizer's input, in (-1, 1), whose
    sign each bit is; how far from 0 says how sure the encoder is of it (``refinement.py``).

    Edited in memory with ``onnx``: the released graph stays as it is, hash and all.
    """
    import onnx  # imported on first use: most processes only decode

    model = onnx.load(str(encoder))
    made_by = {output: node for node in model.graph.node for output in node.output}
    binarizer = made_by.get("bits")
    while binarizer is not None and binarizer.op_type in ("Where", "GreaterOrEqual", "Sign"):
        source = binarizer.input[0]
        binarizer = made_by.get(source)
    if binarizer is None or binarizer.op_type != "Tanh":
        raise ModelError(f"{encoder}: no tanh binarizer in front of the bits to refine them by")
    model.graph.node.append(onnx.helper.make_node("Identity", [source], ["confidence"]))
    model.graph.output.append(onnx.helper.make_tensor_value_info("confidence", onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


class LoadedModel:
    """The onnxruntime sessions of a verified model (a third, the synthesis, for one-shot models),
    shared by all threads."""

    def __init__(self, info: ModelInfo):
        actual = model_hash(info.folder)
        if actual != info.sha256:
            raise ModelError(
                f"model {info.id!r} in {info.folder} is damaged or changed: its graphs hash to "
                f"{actual[:16]}…, its model.json says {info.sha256[:16]}…"
            )
        self.info = info
        for declared, name in ((info.has_prior, PRIOR_FILE), (info.one_shot, SYNTHESIS_FILE)):
            if declared != (info.folder / name).is_file():
                raise ModelError(f"model {info.id!r}: model.json and the folder disagree on {name}")
        prior_file = info.folder / PRIOR_FILE
        try:
            self.prior = ContextPrior.load(prior_file, info.code_channels) if info.has_prior else None
        except ValueError as error:
            raise ModelError(f"model {info.id!r}: bad context prior: {error}") from None
        self.encoder = graph_session(info.folder / "encoder.onnx")
        self._confident_encoder = None  # built on first use: most loads only decode
        self._confident_lock = threading.Lock()
        self.decoder = graph_session(info.folder / "decoder.onnx")
        self.synthesis = graph_session(info.folder / SYNTHESIS_FILE) if info.one_shot else None
        self.encoder_states = [i.name for i in self.encoder.get_inputs()[1:]]
        self.decoder_states = [i.name for i in self.decoder.get_inputs()[1:]]
        arch = info.card["architecture"]
        self._encoder_channels = [arch["encoder_hidden"][i] for i in range(len(self.encoder_states))]
        self._decoder_channels = [arch["decoder_hidden"][i] for i in range(len(self.decoder_states))]

    def zero_encoder_states(self, height: int, width: int) -> list[np.ndarray]:
        """Encoder states for a padded image: resolutions 1/4, 1/8, 1/16."""
        return [
            np.zeros((1, c, height >> (i + 2), width >> (i + 2)), np.float32)
            for i, c in enumerate(self._encoder_channels)
        ]

    def zero_decoder_states(self, height: int, width: int) -> list[np.ndarray]:
        """Decoder states for a padded image: resolutions 1/16, 1/8, 1/4, 1/2 (fast models: the first)."""
        return [
            np.zeros((1, c, height >> (4 - i), width >> (4 - i)), np.float32)
            for i, c in enumerate(self._decoder_channels)
        ]

    def encode_step(
        self, residual: np.ndarray, states: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        bits, *states = self.encoder.run(
            None, {"residual": residual, **dict(zip(self.encoder_states, states))}
        )
        return bits, states

    def encode_step_with_confidence(
        self, residual: np.ndarray, states: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """As :meth:`encode_step`, with each bit's confidence in between (:func:`with_confidence`)."""
        with self._confident_lock:
            if self._confident_encoder is None:
                self._confident_encoder = graph_session(with_confidence(self.info.folder / "encoder.onnx"))
        bits, *outputs = self._confident_encoder.run(
            None, {"residual": residual, **dict(zip(self.encoder_states, states))}
        )
        return bits, outputs[-1], outputs[:-1]

    def decode_step(
        self, bits: np.ndarray, states: list[np.ndarray]
    ) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """(the increment of the reconstruction, or None for a one-shot model; the new states)."""
        outputs = self.decoder.run(None, {"bits": bits, **dict(zip(self.decoder_states, states))})
        if self.synthesis is not None:
            return None, outputs
        return outputs[0], outputs[1:]

    def synthesize(self, states: list[np.ndarray]) -> np.ndarray:
        """A one-shot model's reconstruction from its decoder states (run once per picture shown)."""
        return self.synthesis.run(None, {"state": states[-1]})[0]


def load_model(model_id: str, expected_sha256: str | None = None) -> LoadedModel:
    """The loaded model ``model_id``, verified against ``expected_sha256`` (a file's record) if given."""
    info = find_model(model_id)
    if expected_sha256 is not None and info.sha256 != expected_sha256:
        raise ModelError(
            f"the file was written with model {model_id!r} {expected_sha256[:16]}…, "
            f"but the installed {model_id!r} in {info.folder} is {info.sha256[:16]}…"
        )
    with _lock:
        key = f"{info.folder}:{info.sha256}"
        if key not in _loaded:
            _loaded[key] = LoadedModel(info)
        return _loaded[key]
