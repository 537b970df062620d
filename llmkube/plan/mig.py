"""MIG layouts: is a per-GPU mix of instances physically placeable, and what does it advertise.

The model is the one in the facts file (§1.1): a GPU has `computeSlices`
compute slices and `memorySlots` slots on a memory-slot axis; each instance
starts at one of its profile's listed start indices, occupies `memorySlots`
consecutive slots, and instances may not overlap. Compute slices add up to at
most the GPU's total, a profile appears at most `maxCount` times, and at most
one instance per GPU owns the media engines (`+me`). mig-parted only takes
profile *names and counts*; the driver finds the geometry — so we search for
one to tell, before anything reaches a node, whether the driver can.

Everything here is pure: no I/O, no profile loading. Callers pass the
`MigSpec`/`GPUProfile` they already hold.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

from llmkube.names import GPU_RESOURCE, MIG_RESOURCE_PREFIX, POOL_CONFIG_PREFIX
from llmkube.profiles import GPUProfile, MigProfile, MigSpec
from llmkube.records import record

DISABLED_CONFIG = "all-disabled"
ENABLED_CONFIG = "all-enabled"
BALANCED_CONFIG = "all-balanced"
STOCK_PREFIX = "all-"
_LABEL_VALUE_MAX = 63
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_GENERIC_NAME = re.compile(r"^(?P<g>[0-9]+)g\.(?P<gb>[0-9]+)gb(?P<suffix>[+-].*)?$")

Strategy = Literal["single", "mixed"]


# ---- data --------------------------------------------------------------------


@record(frozen=True)
class PlacedInstance:
    """One GPU instance at a concrete start slot; `slots` is what it occupies."""

    profile: str
    start: int
    memory_slots: int
    compute_slices: int

    @property
    def slots(self) -> range:
        return range(self.start, self.start + self.memory_slots)


@record(frozen=True)
class Placement:
    """A geometry the driver could create: instances in search order (larger first)."""

    instances: tuple[PlacedInstance, ...]

    @property
    def compute_slices(self) -> int:
        return sum(i.compute_slices for i in self.instances)

    @property
    def memory_slots(self) -> int:
        return sum(i.memory_slots for i in self.instances)


@record(frozen=True)
class LayoutProblem:
    """Why a layout cannot be applied, and what to write instead.

    `code` is a stable short id for rule engines: unknown-profile, no-mig,
    empty-layout, negative-count, over-max, media-engines, unplaceable, strategy.
    """

    code: str
    message: str
    hint: str | None = None


class LayoutError(ValueError):
    """Raised where a function cannot return a value for a bad layout; carries the problem."""

    def __init__(self, problem: LayoutProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@record(frozen=True)
class Alternative:
    """A valid layout near a rejected one, with the edits that lead there."""

    layout: dict[str, int]
    placement: Placement
    edits: tuple[str, ...]


# ---- helpers on profiles -----------------------------------------------------


def is_media_variant(name: str) -> bool:
    """`+me` and `+me.all` own the media engines; `-me` and `+gfx` do not."""
    _, plus, suffix = name.partition("+")
    return bool(plus) and suffix.split(".", 1)[0] == "me"


def _by_name(mig: MigSpec) -> dict[str, MigProfile]:
    return {p.name: p for p in mig.profiles}


def _size_key(p: MigProfile) -> tuple[int, int, float, str]:
    """Larger first when sorted descending: compute, then memory slots, then GiB."""
    return (p.compute_slices, p.memory_slots, p.memory_gi_b, p.name)


def _counts(layout: Mapping[str, int]) -> dict[str, int]:
    """Drop zero counts: `{x: 0}` means "none of x", not a problem."""
    return {name: int(n) for name, n in layout.items() if n}


def format_layout(layout: Mapping[str, int], mig: MigSpec | None = None) -> str:
    """`4g.40gb + 2×2g.20gb` — larger profiles first when the spec is known, else by name."""
    counts = _counts(layout)
    if mig is not None:
        profiles = _by_name(mig)

        def size(n: str) -> tuple[int, int, float, str]:
            return _size_key(profiles[n]) if n in profiles else (0, 0, 0.0, n)

        order = sorted(counts, key=size, reverse=True)
    else:
        order = sorted(counts)
    parts = [name if counts[name] == 1 else f"{counts[name]}×{name}" for name in order]
    return " + ".join(parts) if parts else "(no instances)"


# ---- placement search --------------------------------------------------------


def place_layout(mig: MigSpec, layout: Mapping[str, int]) -> Placement | None:
    """A concrete placement of `layout` (profile → per-GPU count) on one GPU, or None.

    Rule (facts §1.1): each instance at one of its profile's start indices, no
    overlap on the memory-slot axis, compute slices summed ≤ `mig.compute_slices`,
    at most one `+me` instance, each count ≤ `maxCount`. Deterministic:
    instances are placed larger first, each at its lowest free start, with
    backtracking (at most 8 slots, so the search is tiny). Zero counts are
    ignored; an empty layout places trivially.

    Raises ValueError for a profile name this GPU does not have or a negative
    count — those are input errors, not geometry (use `check_layout` to report them).
    The search is remembered per geometry and layout (`_place`): a run asks the same few.
    """
    profiles = _by_name(mig)
    counts = _counts(layout)
    for name, n in counts.items():
        if name not in profiles:
            raise ValueError(f"unknown MIG profile {name!r}")
        if n < 0:
            raise ValueError(f"negative count for MIG profile {name!r}")
    return _place(_geometry(mig), tuple(counts.items()))


class _ProfileRow(NamedTuple):
    """What placing reads of a MigProfile (hashable: part of `_place`'s cache key)."""

    name: str
    memory_slots: int
    compute_slices: int
    max_count: int
    placements: tuple[int, ...]
    memory_gib: float

# (compute slices, memory slots, the profiles' rows in the spec's order)
_Geometry = tuple[int, int, tuple[_ProfileRow, ...]]


def _geometry(mig: MigSpec) -> _Geometry:
    """Everything of a MigSpec that `_place` reads, hashable (its cache key)."""
    return (
        mig.compute_slices,
        mig.memory_slots,
        tuple(_ProfileRow(p.name, p.memory_slots, p.compute_slices, p.max_count, tuple(p.placements), p.memory_gi_b)
              for p in mig.profiles),
    )


@functools.lru_cache(maxsize=4096)
def _place(geometry: _Geometry, counts: tuple[tuple[str, int], ...]) -> Placement | None:
    """`place_layout`'s search, on a geometry whose profiles hold every name in `counts` (non-zero,
    non-negative). Pure, and its answer (a frozen Placement) is shared: remembered
    (tests/test_startup.py holds it to `_place.__wrapped__`, the search uncached)."""
    compute_total, slots_total, rows = geometry
    profiles = {row.name: row for row in rows}
    if any(n > profiles[name].max_count for name, n in counts):
        return None
    if sum(n for name, n in counts if is_media_variant(name)) > 1:
        return None
    if sum(profiles[name].compute_slices * n for name, n in counts) > compute_total:
        return None
    if sum(profiles[name].memory_slots * n for name, n in counts) > slots_total:
        return None

    def size(row: _ProfileRow) -> tuple[int, int, float, str]:  # `_size_key` of the row's profile
        return (row.compute_slices, row.memory_slots, row.memory_gib, row.name)

    order = sorted((name for name, _ in counts), key=lambda name: size(profiles[name]), reverse=True)
    count = dict(counts)
    todo = [profiles[name] for name in order for _ in range(count[name])]
    chosen: list[int] = []

    def masks(row: _ProfileRow) -> list[tuple[int, int]]:
        """(start, occupied-slots bitmask) per allowed start that stays on the slot axis."""
        out = []
        memory_slots = row.memory_slots
        for start in sorted(set(row.placements)):
            if 0 <= start and start + memory_slots <= slots_total:
                out.append((start, ((1 << memory_slots) - 1) << start))
        return out

    options = {row.name: masks(row) for row in todo}

    def search(i: int, used: int) -> bool:
        if i == len(todo):
            return True
        row = todo[i]
        # identical instances are interchangeable: keep their starts increasing
        floor = chosen[-1] + 1 if i and todo[i - 1].name == row.name else 0
        for start, mask in options[row.name]:
            if start < floor or used & mask:
                continue
            chosen.append(start)
            if search(i + 1, used | mask):
                return True
            chosen.pop()
        return False

    if not search(0, 0):
        return None
    return Placement(
        tuple(
            PlacedInstance(row.name, start, row.memory_slots, row.compute_slices)
            for row, start in zip(todo, chosen, strict=True)
        )
    )


# ---- nearest valid layout ----------------------------------------------------


def _next_smaller(mig: MigSpec, p: MigProfile) -> list[MigProfile]:
    """Profiles one step down from `p`.

    Within the same family (media-engine owners with media-engine owners, the
    rest with the rest) the next smaller one in (compute, memory slots, GiB)
    order; for a `+me` profile also its plain twin of the same size, which
    gives the media engines back.
    """
    media = is_media_variant(p.name)
    family = sorted(
        (q for q in mig.profiles if is_media_variant(q.name) == media and _size_key(q) < _size_key(p)),
        key=_size_key,
    )
    out = family[-1:]
    if media:
        twins = [
            q for q in mig.profiles
            if not is_media_variant(q.name)
            and (q.compute_slices, q.memory_slots) == (p.compute_slices, p.memory_slots)
        ]
        out += sorted(twins, key=_size_key)[-1:]
    return out


# (compute slices, memory slots, (name, memory slots, compute slices, max count, placements) per profile)
_MigShape = tuple[int, int, tuple[tuple[str, int, int, int, tuple[int, ...]], ...]]


def _shape(mig: MigSpec) -> _MigShape:
    """Everything about a MigSpec that validity depends on, hashable (the cache key)."""
    return (
        mig.compute_slices,
        mig.memory_slots,
        tuple(
            (p.name, p.memory_slots, p.compute_slices, p.max_count, tuple(p.placements))
            for p in sorted(mig.profiles, key=lambda p: p.name)
        ),
    )


@functools.lru_cache(maxsize=64)
def _valid_layouts(shape: _MigShape) -> tuple[tuple[tuple[str, int], ...], ...]:
    compute_total, slots_total, rows = shape
    # every profile at 1 GiB, as the MigSpec this was once rebuilt as had it (the larger-first order
    # then falls back to the name); the search is `_place`'s, without building a pydantic model
    geometry: _Geometry = (compute_total, slots_total, tuple(_ProfileRow(n, s, c, m, pl, 1.0) for n, s, c, m, pl in rows))
    found: list[tuple[tuple[str, int], ...]] = []

    def walk(i: int, chosen: dict[str, int], compute: int, slots: int) -> None:
        if i == len(rows):
            if chosen and _place(geometry, tuple(_counts(chosen).items())) is not None:
                found.append(tuple(sorted(chosen.items())))
            return
        name, s, c, m, _ = rows[i]
        for n in range(m + 1):
            if compute + n * c > compute_total or slots + n * s > slots_total:
                break
            if n and is_media_variant(name) and any(is_media_variant(k) for k in chosen):
                break
            walk(i + 1, {**chosen, name: n} if n else chosen, compute + n * c, slots + n * s)

    walk(0, {}, 0, 0)
    return tuple(found)


def valid_layouts(mig: MigSpec) -> list[dict[str, int]]:
    """Every non-empty per-GPU layout `place_layout` accepts (a few hundred on 7-slice GPUs)."""
    return [dict(t) for t in _valid_layouts(_shape(mig))]


def closest_valid_layout(mig: MigSpec, layout: Mapping[str, int]) -> Alternative | None:
    """The valid layout nearest to `layout`, for a hint; None if `layout` is already valid.

    Rule: the candidates are the valid layouts that keep a sub-multiset of the
    requested instances (drop any), optionally after replacing *one* instance
    by the next smaller profile (4g→3g→2g→double-memory 1g→1g, within the
    same media-engine family; a `+me` instance may instead become its plain
    twin). Among them, in order: most compute slices used; most instances kept
    (each is usually a workload); no shrink over a shrink; the largest
    instances kept (sizes compared largest first); most memory; then names,
    for determinism. E.g. H100 4g+2g+2g → 4g.40gb + 2g.20gb + 1g.20gb (7
    slices, the 4g kept), 4g+4g → 4g+3g, 7g+1g → 7g.
    """
    profiles = _by_name(mig)
    counts = _counts(layout)
    unknown = [n for n in counts if n not in profiles]
    if unknown or any(n < 0 for n in counts.values()):
        raise ValueError(f"cannot suggest a layout with unknown profiles or negative counts: {unknown}")
    if not counts or place_layout(mig, counts) is not None:
        return None

    # the request itself, then each one-shrink variant, with the edit that made it
    sources: list[tuple[dict[str, int], str | None]] = [(counts, None)]
    for name in sorted(counts):
        for smaller in _next_smaller(mig, profiles[name]):
            shrunk = dict(counts)
            shrunk[name] -= 1
            shrunk[smaller.name] = shrunk.get(smaller.name, 0) + 1
            sources.append((shrunk, f"shrink one {name} to {smaller.name}"))

    def score(cand: dict[str, int], shrink: str | None) -> tuple[Any, ...]:
        sizes = sorted(
            ((profiles[n].compute_slices, profiles[n].memory_slots) for n, c in cand.items() for _ in range(c)),
            reverse=True,
        )
        return (
            -sum(profiles[n].compute_slices * c for n, c in cand.items()),
            -sum(cand.values()),
            shrink is not None,
            [(-a, -b) for a, b in sizes],
            -sum(profiles[n].memory_gi_b * c for n, c in cand.items()),
            sorted(cand.items()),
            shrink or "",
        )

    best: tuple[tuple[Any, ...], dict[str, int], dict[str, int], str | None] | None = None
    for cand in valid_layouts(mig):
        for source, shrink in sources:
            if all(c <= source.get(n, 0) for n, c in cand.items()):
                key = score(cand, shrink)
                if best is None or key < best[0]:
                    best = (key, cand, source, shrink)
    if best is None:
        return None  # only if no single profile fits on its own: broken profile data
    _, cand, source, shrink = best
    edits = [shrink] if shrink else []
    for n in sorted(source, key=lambda n: _size_key(profiles[n]), reverse=True):
        gone = source[n] - cand.get(n, 0)
        if gone:
            edits.append(f"drop {'one ' if gone == 1 else f'{gone}×'}{n}")
    placement = place_layout(mig, cand)
    assert placement is not None
    return Alternative(dict(sorted(cand.items())), placement, tuple(edits))


# ---- checks with messages ----------------------------------------------------


def _equivalent(gpu: GPUProfile, name: str, others: Iterable[GPUProfile]) -> tuple[list[str], str | None]:
    """Which other GPUs have profile `name`, and this GPU's profile of the same shape.

    Same shape = same compute slices, memory slots and media-engine ownership
    as on the GPU that has the name; without such a GPU, the compute slices
    parsed from the name (`3g.…`) and the nearest memory size.
    """
    assert gpu.spec.mig is not None
    mine = gpu.spec.mig.profiles
    owners: list[str] = []
    shapes: list[tuple[int, int, bool]] = []
    for other in sorted(others, key=lambda g: g.name):
        if other.name == gpu.name or other.spec.mig is None:
            continue
        for p in other.spec.mig.profiles:
            if p.name == name:
                owners.append(other.name)
                shapes.append((p.compute_slices, p.memory_slots, is_media_variant(p.name)))
    for shape in shapes:
        same = [p for p in mine if (p.compute_slices, p.memory_slots, is_media_variant(p.name)) == shape]
        if same:
            return owners, same[0].name
    m = _GENERIC_NAME.match(name)
    if m:
        g, gb = int(m["g"]), int(m["gb"])
        media = is_media_variant(name)
        same = [p for p in mine if p.compute_slices == g and is_media_variant(p.name) == media]
        if same:
            return owners, min(same, key=lambda p: (abs(p.memory_gi_b - gb), p.name)).name
    return owners, None


def _unknown_profile(gpu: GPUProfile, name: str, others: Iterable[GPUProfile]) -> LayoutProblem:
    assert gpu.spec.mig is not None
    names = [p.name for p in gpu.spec.mig.profiles]
    owners, same = _equivalent(gpu, name, others)
    parts = []
    if owners:
        parts.append(f"{name} is a profile of {'/'.join(owners)}")
    if same is not None:
        m = _GENERIC_NAME.match(same)
        shape = f"the {m['g']}-slice profile" if m else "the matching profile"
        parts.append(f"on {gpu.name} {shape} is {same}")
    else:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        if close:
            parts.append(f"did you mean {close[0]!r}?")
    hint = "; ".join(parts)
    hint = (hint + " — " if hint else "") + f"{gpu.name} profiles: {', '.join(names)}"
    return LayoutProblem("unknown-profile", f"unknown MIG profile {name!r} for {gpu.name}", hint)


def balanced_layout(mig: MigSpec) -> dict[str, int]:
    """mig-parted's `all-balanced` formula: 2×1g + 1×2g (+ 1×3g on 7-slice GPUs), base profiles."""
    plain = [p for p in mig.profiles if "+" not in p.name and "-" not in p.name]

    def smallest(g: int) -> str | None:
        cands = sorted((p for p in plain if p.compute_slices == g), key=_size_key)
        return cands[0].name if cands else None

    want = {smallest(1): 2, smallest(2): 1}
    if mig.compute_slices >= 7:
        want[smallest(3)] = 1
    layout = {n: c for n, c in want.items() if n is not None}
    return layout if place_layout(mig, layout) is not None else {}


def _alternative_hint(gpu: GPUProfile, layout: Mapping[str, int]) -> str | None:
    mig = gpu.spec.mig
    assert mig is not None
    alt = closest_valid_layout(mig, layout)
    if alt is None:
        return None
    used = alt.placement.compute_slices
    return (
        f"closest valid layout: {format_layout(alt.layout, mig)} ({'; '.join(alt.edits)}; "
        f"uses {used} of {mig.compute_slices} compute slices)"
    )


def _why_unplaceable(mig: MigSpec, counts: Mapping[str, int]) -> str:
    profiles = _by_name(mig)
    compute = sum(profiles[n].compute_slices * c for n, c in counts.items())
    slots = sum(profiles[n].memory_slots * c for n, c in counts.items())
    if compute > mig.compute_slices:
        return f"it needs {compute} compute slices, the GPU has {mig.compute_slices}"
    if slots > mig.memory_slots:
        return f"it needs {slots} memory slots, the GPU has {mig.memory_slots}"
    order = sorted(counts, key=lambda n: _size_key(profiles[n]), reverse=True)
    starts = ", ".join(f"{n} at {'/'.join(map(str, profiles[n].placements))}" for n in order)
    return f"no arrangement of the allowed start slots avoids overlap ({starts})"


def check_layout(
    gpu: GPUProfile,
    layout: Mapping[str, int],
    *,
    known_gpus: Iterable[GPUProfile] = (),
) -> list[LayoutProblem]:
    """Everything wrong with a per-GPU MIG layout on `gpu`; [] when mig-parted can apply it.

    `known_gpus` (e.g. `store.gpus.values()`) lets an unknown-name hint say
    which GPU the name belongs to. Name, count and media-engine problems are
    reported first; the geometric check runs only when those pass, so one
    mistake gives one problem. Hints carry a valid alternative
    (`closest_valid_layout`).
    """
    mig = gpu.spec.mig
    if mig is None:
        capable = sorted(g.name for g in known_gpus if g.spec.mig is not None)
        hint = "share it with time-slicing or MPS instead, or pick a MIG-capable GPU"
        if capable:
            hint += f" ({', '.join(capable)})"
        return [LayoutProblem("no-mig", f"{gpu.name} ({gpu.spec.display_name}) does not support MIG", hint)]

    others = list(known_gpus)
    problems = [_unknown_profile(gpu, n, others) for n in layout if n not in _by_name(mig)]
    problems += [
        LayoutProblem(
            "negative-count", f"MIG profile {n} has a negative count ({c})", "counts are instances per GPU, 0 or more"
        )
        for n, c in layout.items()
        if c < 0
    ]
    if problems:
        return problems
    counts = _counts(layout)
    if not counts:
        example = balanced_layout(mig)
        hint = "list at least one profile with a count of 1 or more"
        if example:
            hint += f", e.g. {format_layout(example, mig)} (mig-parted's all-balanced)"
        return [LayoutProblem("empty-layout", f"the MIG layout for {gpu.name} has no instances", hint)]

    profiles = _by_name(mig)
    alt = _alternative_hint(gpu, counts)
    for n in sorted(counts):
        cap = profiles[n].max_count
        if counts[n] > cap:
            problems.append(
                LayoutProblem(
                    "over-max",
                    f"{counts[n]}×{n} exceeds the per-GPU maximum of {cap} on {gpu.name}",
                    alt or f"at most {cap}×{n} fit on one GPU",
                )
            )
    media = {n: c for n, c in counts.items() if is_media_variant(n)}
    # 2×1g.10gb+me is already an over-max problem; this one is for two different +me profiles
    if sum(min(c, profiles[n].max_count) for n, c in media.items()) > 1:
        problems.append(
            LayoutProblem(
                "media-engines",
                f"{format_layout(media, mig)}: only one +me instance per GPU can own the media engines",
                alt or "keep one +me instance and use the plain profile for the rest",
            )
        )
    if problems:
        return problems
    if place_layout(mig, counts) is None:
        problems.append(
            LayoutProblem(
                "unplaceable",
                f"{format_layout(counts, mig)} cannot be placed on one {gpu.name}: {_why_unplaceable(mig, counts)}",
                alt,
            )
        )
    return problems


# ---- what the node advertises ------------------------------------------------


def check_strategy(layout: Mapping[str, int], strategy: Strategy) -> list[LayoutProblem]:
    """The single strategy needs one identical profile on every GPU (else GFD reports MIG-INVALID)."""
    if strategy not in ("single", "mixed"):
        raise ValueError(f"unknown MIG strategy {strategy!r} (single or mixed)")
    if strategy == "mixed":
        return []
    kinds = list(_counts(layout))  # in the user's order
    if len(kinds) == 1:
        return []
    if not kinds:
        return [
            LayoutProblem(
                "strategy",
                "under the single strategy a MIG-enabled GPU without instances advertises nothing "
                "(product MIG-INVALID)",
                "give the layout one profile, or turn MIG off for this pool",
            )
        ]
    return [
        LayoutProblem(
            "strategy",
            "under the single strategy every GPU of a node must carry one identical profile; "
            f"got {', '.join(kinds[:-1])} and {kinds[-1]} — use mixed",
            "set the ClusterPolicy mig.strategy to mixed, or keep one profile per pool",
        )
    ]


def mig_resource_name(profile: str) -> str:
    """Mixed-strategy extended resource: `nvidia.com/mig-<profile>` with `+` written as `.`."""
    return MIG_RESOURCE_PREFIX + profile.replace("+", ".")


def resource_names(layout: Mapping[str, int], strategy: Strategy) -> dict[str, int]:
    """Extended resources one GPU with this layout advertises (facts §2).

    mixed → one `nvidia.com/mig-<profile>` per profile; single → `nvidia.com/gpu`
    counting every instance. Raises LayoutError when single gets several profiles.
    """
    problems = check_strategy(layout, strategy)
    if problems:
        raise LayoutError(problems[0])
    counts = _counts(layout)
    if strategy == "single":
        return {GPU_RESOURCE: sum(counts.values())}
    return {mig_resource_name(n): counts[n] for n in sorted(counts)}


def mig_product_label(gpu_product: str, profile: str) -> str:
    """GFD `nvidia.com/gpu.product` of a MIG device (single) or `mig-<p>.product` (mixed)."""
    return f"{gpu_product}-MIG-{profile.replace('+', '.')}"


# ---- mig-parted config -------------------------------------------------------


def mig_parted_config_name(pool: str) -> str:
    """`llmkube-<pool>`: the `nvidia.com/mig.config` value selecting a pool's layout.

    The prefix keeps it apart from mig-parted's own `all-*` names. A label
    value holds at most 63 characters, so a longer name is cut and ends in 8
    hex digits of its SHA-256 — stable, and still unique per pool.
    """
    name = POOL_CONFIG_PREFIX + pool
    if len(name) > _LABEL_VALUE_MAX:
        digest = hashlib.sha256(pool.encode()).hexdigest()[:8]
        name = name[: _LABEL_VALUE_MAX - 9].rstrip("-._") + "-" + digest
    if not _LABEL_VALUE.fullmatch(name):
        raise ValueError(f"pool name {pool!r} does not make a valid label value ({name!r})")
    return name


def stock_config_name(profile: str) -> str:
    """mig-manager's name for "every GPU split into this profile": `all-1g.10gb`, `all-1g.10gb.me`."""
    return STOCK_PREFIX + profile.replace("+", ".")


def _stock_entries(per_gpu: list[tuple[GPUProfile, dict[str, int]]], filtered: bool) -> list[dict[str, Any]]:
    """One entry per distinct layout; `device-filter` = the PCI ids of the GPUs that take it."""
    by_layout: dict[tuple[tuple[str, int], ...], list[str]] = {}
    for gpu, layout in per_gpu:
        by_layout.setdefault(tuple(sorted(layout.items())), []).extend(gpu.spec.pci_device_ids)
    entries = []
    for layout_items, ids in sorted(by_layout.items(), key=lambda kv: kv[0]):
        entry: dict[str, Any] = {"device-filter": sorted(set(ids))} if filtered else {}
        entry.update({"devices": "all", "mig-enabled": True, "mig-devices": dict(layout_items)})
        entries.append(entry)
    return entries


def stock_configs(gpus: Iterable[GPUProfile]) -> dict[str, list[dict[str, Any]]]:
    """The configs the GPU Operator's own MIG manager offers for these GPUs, which a custom
    mig-parted ConfigMap replaces — kept so that nodes labelled with them stay reconfigurable.

    Upstream: with a custom ConfigMap the operator neither creates nor mounts its
    `default-mig-parted-config` (gpu-operator v26.7.0 controllers/object_controls.go), and
    mig-manager then uses that file alone (mig-parted v0.15.0 cmd/nvidia-mig-manager/main.go
    `setupMigConfig`); without one, mig-manager generates `all-disabled`, `all-enabled`,
    `all-balanced` and `all-<profile>` (each profile at its max count, `+` written as `.`) from
    the hardware (pkg/mig/builder `BuildMigConfigSpec`, balanced.go). We build the same names
    from the GPU profiles: `device-filter` (PCI ids) only when the GPUs differ, as upstream
    does; with several GPU types a GPU without PCI ids in its profile gets no filtered entries.
    """
    mig_gpus = sorted({g.name: g for g in gpus if g.spec.mig is not None}.values(), key=lambda g: g.name)
    filtered = len(mig_gpus) > 1
    usable = [g for g in mig_gpus if g.spec.pci_device_ids or not filtered]
    out: dict[str, list[dict[str, Any]]] = {DISABLED_CONFIG: [{"devices": "all", "mig-enabled": False}]}
    if not mig_gpus:
        return out
    out[ENABLED_CONFIG] = [{"devices": "all", "mig-enabled": True, "mig-devices": {}}]
    balanced = [(g, balanced_layout(g.spec.mig)) for g in usable if g.spec.mig is not None]
    balanced = [(g, layout) for g, layout in balanced if layout]
    if balanced:
        out[BALANCED_CONFIG] = _stock_entries(balanced, filtered)
    per_profile: dict[str, list[tuple[GPUProfile, dict[str, int]]]] = {}
    for g in usable:
        assert g.spec.mig is not None
        for p in g.spec.mig.profiles:
            per_profile.setdefault(p.name, []).append((g, {p.name: p.max_count}))
    for profile in sorted(per_profile):
        out[stock_config_name(profile)] = _stock_entries(per_profile[profile], filtered)
    return out


def mig_parted_config(configs: Mapping[str, Mapping[str, int]], gpus: Iterable[GPUProfile] = ()) -> dict[str, Any]:
    """The mig-parted `version: v1` document: config name → per-GPU layout, all devices.

    Always includes `all-disabled` (MIG off) so a node can be reset by label, and,
    for the GPUs of the pools (`gpus`), the stock configs the operator's MIG manager
    would otherwise offer (`stock_configs`). Config names are sorted and profiles
    within a layout too, so the output is byte-stable; zero counts are dropped (an
    empty layout = MIG on, no instances).
    """
    out: dict[str, Any] = {DISABLED_CONFIG: [{"devices": "all", "mig-enabled": False}]}
    out.update(stock_configs(gpus))
    for name in sorted(configs):
        if name == DISABLED_CONFIG or name.startswith(STOCK_PREFIX):
            raise ValueError(f"config name {name!r} is reserved for mig-manager's stock configs")
        if len(name) > _LABEL_VALUE_MAX or not _LABEL_VALUE.fullmatch(name):
            raise ValueError(f"config name {name!r} is not a valid label value")
        counts = _counts(configs[name])
        if any(c < 0 for c in counts.values()):
            raise ValueError(f"config {name!r} has a negative count")
        out[name] = [
            {
                "devices": "all",
                "mig-enabled": True,
                "mig-devices": {p: counts[p] for p in sorted(counts)},
            }
        ]
    return {"version": "v1", "mig-configs": out}
