"""Heavy models load once per process and are shared by every session."""

from __future__ import annotations

import threading
from typing import ClassVar, Self


class SharedModel:
    """Gives a model class ``shared()``: its process-wide instance, built with defaults on first use.

    Loading takes from a fraction of a second (ONNX) to seconds (the LLM), and the models are
    thread-safe or lock internally, so sessions never hold their own copy.
    """

    _instances: ClassVar[dict[type, object]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> Self:
        instance = SharedModel._instances.get(cls)
        if instance is None:
            with SharedModel._instances_lock:
                instance = SharedModel._instances.get(cls)
                if instance is None:
                    instance = cls()
                    SharedModel._instances[cls] = instance
        return instance  # type: ignore[return-value]
