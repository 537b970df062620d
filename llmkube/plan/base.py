"""What every planner returns: a frozen plan, and the values its template sees.

A plan is typed so that Python code (the pipeline, tests, `llmkube plan`)
reads named attributes; a template sees the same values as plain dicts and
lists, because templates are a public interface (`--templates DIR` overrides
them by name) whose variable names and shapes do not change with the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from llmkube.records import record


@record(frozen=True)
class NodeLabels:
    """Labels to put on the nodes a selector matches (a pool's MIG or sharing config)."""

    pool: str
    selector: dict[str, str]
    labels: dict[str, str]


@record(frozen=True)
class ClusterTarget:
    """A cluster a plan renders for: its name (the `llmkube.dev/cluster` annotation of its
    objects, the folder of `render -d`) and the kubectl context `llmkube apply` uses.

    The manager has no annotation: its objects are the run's own, as without a federation.
    """

    name: str
    context: str | None
    manager: bool = False


@record(frozen=True, kw_only=True)
class Plan:
    """Base of every plan: node labels to set before applying, and notes for the user."""

    node_label_steps: tuple[NodeLabels, ...] = ()
    notes: tuple[str, ...] = ()
    clusters: tuple[ClusterTarget, ...] = ()  # a federation's clusters (manager first); () for one cluster

    # Fields its templates never saw; a kind whose templates did see one lists fewer.
    hidden_from_template: ClassVar[tuple[str, ...]] = ("node_label_steps", "notes")
    # Seen by no template (the templates read a federation from the kind's own fields).
    _never_in_template: ClassVar[tuple[str, ...]] = ("clusters",)

    def template_context(self) -> dict[str, Any]:
        """The variables the kind's templates are rendered with.

        Templates are overridable (`--templates DIR`), so these names and
        shapes are a public interface that must not move with the code: a
        plan's fields are named as its templates read them, and a subclass
        adds the derived values they have always seen.
        """
        values = template_values(self)
        for name in (*self.hidden_from_template, *self._never_in_template):
            del values[name]
        return values


def template_values(value: Any) -> Any:
    """A plan's value as Jinja sees it: dataclasses become dicts, tuples lists.

    Field names are the template's variable names, so a plan's fields are
    named as its template reads them.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: template_values(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [template_values(v) for v in value]
    if isinstance(value, Mapping):
        return {k: template_values(v) for k, v in value.items()}
    return value
