"""Shared pieces of every llmkube spec kind: config, metadata, quantities."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from llmkube.quantity import parse_quantity
from llmkube.records import record

API_VERSION = "llmkube.dev/v1alpha1"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def empty_list() -> list[Any]:
    """The default of a list field (`Field(default_factory=empty_list)`; not `default_factory=list`).

    pydantic asks each default factory for its signature (does it take the validated data?), and a
    builtin's, like `list`'s, is parsed from its text by the tokenizer, whose regex compiles on first
    use: ~5-7 ms of every run that builds a model with such a field (tests/test_startup.py)."""
    return []


class SpecModel(BaseModel):
    """Base for spec models: camelCase keys, unknown keys rejected, no coercion."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        strict=True,
        frozen=True,
        defer_build=True,
    )


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def dns1035_label_error(value: str) -> str | None:
    """Why `value` is not an RFC 1035 label (None if it is one).

    Stricter than a DNS-1123 label: it must start with a letter. It is the
    rule of apimachinery's `NameIsDNS1035Label` (Service names, Kubeflow v1
    jobs) and of the `[a-z]([-a-z0-9]*[a-z0-9])?` patterns KServe and Trainer
    v2 apply; see the callers for the upstream source of each.
    """
    if len(value) > 63:
        return f"is {len(value)} characters long; at most 63 are allowed"
    if not _DNS_1035_LABEL.fullmatch(value):
        return "must start with a letter and hold only lowercase letters, digits and '-', ending in a letter or digit (an RFC 1035 label)"
    return None


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError("must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'")
    return value


def _quantity(value: int | float | str) -> int | str:
    """Integers stay integers (as users wrote them); everything else is a string."""
    if isinstance(value, bool):
        raise ValueError("must be a Kubernetes quantity such as 96, 500m, 1500Gi or 8Ti")
    text = str(value)
    try:
        parse_quantity(text)
    except ValueError:
        raise ValueError("must be a Kubernetes quantity such as 96, 500m, 1500Gi or 8Ti") from None
    if text.startswith("-"):  # the API server takes negative quantities; a spec's sizes never are
        raise ValueError("must be a Kubernetes quantity such as 96, 500m, 1500Gi or 8Ti")
    return value if isinstance(value, int) else text


def _label_key(value: str) -> str:
    if len(value) > 317 or not _LABEL_KEY.fullmatch(value):
        raise ValueError("must be a label key such as topology.kubernetes.io/zone")
    return value


def _extended_resource(value: str) -> str:
    """An extended resource is a qualified name with a domain prefix (`rdma/…`, `vpc.amazonaws.com/…`)."""
    prefix, slash, _ = value.partition("/")
    if not (slash and prefix) or prefix.endswith("kubernetes.io") or not _LABEL_KEY.fullmatch(value):
        raise ValueError(
            "must be a domain-prefixed resource name such as rdma/rdma_shared_device_a or vpc.amazonaws.com/efa"
        )
    return value


DNSLabel = Annotated[str, AfterValidator(_dns_label)]
DNSSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
if TYPE_CHECKING:
    Quantity = int | str  # what a validated spec holds
else:
    # YAML may give a float (1.5); the validator turns everything but an int into a string.
    Quantity = Annotated[int | float | str, AfterValidator(_quantity)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
ExtendedResource = Annotated[str, AfterValidator(_extended_resource)]  # a device plugin's resource
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class Metadata(SpecModel):
    """Kubernetes-style metadata of a spec; `namespace` goes onto namespaced output."""

    name: DNSLabel
    namespace: DNSLabel | None = None
    labels: dict[LabelKey, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Toleration(SpecModel):
    """A node taint, or the toleration for it (same fields as core/v1)."""

    key: LabelKey
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class SecretKeyRef(SpecModel):
    """A reference to one key of a Secret; secrets are never written literally."""

    name: DNSSubdomain
    key: str = "token"


class CountRange(SpecModel):
    """A count that may vary from min to max (replicas, nodes)."""

    min: PositiveInt
    max: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class Resources(SpecModel):
    """CPU and memory per pod (GPUs come from the spec's GPU fields)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None


class HuggingFace(SpecModel):
    """Hugging Face access: the token only ever comes from a Secret."""

    token_secret: SecretKeyRef | None = None


@record(frozen=True)
class SpecProblem:
    """A mistake found after the shape is known valid: a path, a message, a hint."""

    path: tuple[str | int, ...]
    message: str
    hint: str | None = None


TOKEN_ENV_NAMES = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN", "HF_API_TOKEN"}


def literal_token_problems(env: dict[str, str]) -> list[SpecProblem]:
    """A Hugging Face token written into a spec ends up in Git and in `kubectl get -o yaml`."""
    return [
        SpecProblem(
            ("spec", "env", key),
            "a Hugging Face token must not be written into the spec",
            "store it in a Secret and set `huggingFace.tokenSecret: {name: <secret>, key: <key>}`",
        )
        for key, value in env.items()
        if key.upper() in TOKEN_ENV_NAMES or value.startswith("hf_")
    ]
