"""`SizingCache`: one run's memory-model answers, keyed by the server's whole configuration.

LK101 and LK103 ask every server whether it fits (`plan.sizing.serving_fit`), and LK101 also
what would make it fit (`fit_options`, `recommend_serving`); LK305-LK307 how long it takes to
load (`load_estimate`, which sizes the checkpoint). A GitOps tree holds many copies of
one server (a Deployment per region, per team); each copy has the same model, GPU and engine
settings, so the answer is computed once per configuration. The sizing model itself is untouched:
the cache only remembers what it returned.

The key is everything the call reads: the model and GPU profiles (by identity: the run's
`ProfileStore` holds them, and the cache keeps a reference so an identity cannot be reused), the
GPU's memory and device name, and the `ServerConfig` the server is sized with (a frozen value);
for the load time also the spec it was rendered from (its `startup` settings, by identity), the
weights' source, the GPU count and whether it spans nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from llmkube.check.read.servers import ServerSetup

if TYPE_CHECKING:
    from llmkube.plan.sizing import ServerConfig, ServingFit

T = TypeVar("T")


class SizingCache:
    """`fit`, `fit_options` and `recommendation` of a `ServerSetup`, each computed once per configuration."""

    def __init__(self) -> None:
        self._answers: dict[Hashable, tuple[tuple[Any, ...], Any]] = {}

    def _remember(self, what: str, objects: tuple[Any, ...], values: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        key = (what, tuple(id(o) for o in objects), values)
        found = self._answers.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], objects, strict=True)):
            return found[1]
        answer = compute()
        self._answers[key] = (objects, answer)
        return answer

    def _fit_key(self, s: ServerSetup) -> tuple[tuple[Any, ...], tuple[Hashable, ...]]:
        memory = s.gpu.memory_gib if s.gpu is not None else None
        return (s.model, s.gpu.gpu if s.gpu is not None else None), (memory, s.sizing_config, s.gpu_name)

    def fit(self, s: ServerSetup) -> ServingFit | None:
        """`s.fit()`: the server's memory on its GPU."""
        objects, values = self._fit_key(s)
        return self._remember("fit", objects, values, s.fit)

    def fit_at(self, s: ServerSetup, config: ServerConfig) -> ServingFit:
        """`serving_fit` of the server's model on its GPU with another configuration (LK342: the
        whole model on one pod). The server must have a model and a GPU."""
        assert s.model is not None and s.gpu is not None
        model, gpu = s.model, s.gpu
        from llmkube.plan.sizing import serving_fit

        objects, values = self._fit_key(s)
        return self._remember("fit_at", objects, (*values, config), lambda: serving_fit(model, gpu.memory_gib, config, gpu_name=s.gpu_name))

    def fit_options(self, s: ServerSetup) -> list[str]:
        """`s.fit_options()`: the settings that would make it fit (a fresh list each call)."""
        objects, values = self._fit_key(s)
        return list(self._remember("fit_options", objects, values, s.fit_options))

    def recommendation(self, s: ServerSetup) -> str | None:
        """`s.recommendation()`: one node's advice (none for a server spread over nodes)."""
        objects, values = self._fit_key(s)
        return self._remember("recommendation", objects, (*values, s.multi_node), s.recommendation)

    def load_estimate(self, s: ServerSetup) -> float | None:
        """`s.load_estimate()`: seconds to fetch and load the weights and start the engine."""
        spec = s.target.spec.spec if s.target.spec is not None else None
        values = (s.config, s.gpu_count, s.multi_node, s.weights_source)
        return self._remember("load_estimate", (s.model, spec), values, s.load_estimate)
