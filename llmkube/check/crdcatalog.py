"""The upstream CRD releases llmkube knows how to fetch: `llmkube crds pull kueue@v0.19.2`.

Each project lists the raw-file paths of its CRDs inside its repository at the
release llmkube targets (the versions its templates and tests are written
against). A file's URL is `{base}/{repo}/{tag}/{path}` — the layout of GitHub's
raw-file host — so another release is the same paths at another tag. `base` is
`$LLMKUBE_CRD_CATALOG_URL` when set (a mirror, or a local server in tests).

The paths and tags are those recorded for the test oracle (shared/crds/SOURCES.md:
every file there was copied from these paths at these tags). Pure data, no I/O.
"""

from __future__ import annotations

import os
import re

from llmkube.records import record

#: Where raw files are served: `{base}/{owner}/{repo}/{tag}/{path}`.
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
#: Environment variable that replaces DEFAULT_BASE_URL (a mirror with the same layout).
BASE_URL_ENV = "LLMKUBE_CRD_CATALOG_URL"

_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


@record(frozen=True)
class Project:
    """One upstream project: where its CRD files are, and the release llmkube targets."""

    name: str  # what users type: `kueue`
    repo: str  # owner/name on GitHub
    version: str  # the release tag llmkube targets
    paths: tuple[str, ...]  # CRD files inside the repository at that tag
    groups: tuple[str, ...]  # API groups its CRDs define (to suggest a pull for a missing kind)
    about: str

    def urls(self, version: str | None = None, base: str | None = None) -> list[str]:
        """The raw URLs of the CRD files at `version` (default: the targeted release)."""
        root = (base or base_url()).rstrip("/")
        tag = version or self.version
        return [f"{root}/{self.repo}/{tag}/{path}" for path in self.paths]


PROJECTS: dict[str, Project] = {
    p.name: p
    for p in (
        Project(
            "kueue",
            "kubernetes-sigs/kueue",
            "v0.19.2",
            tuple(
                f"config/components/crd/bases/kueue.x-k8s.io_{plural}.yaml"
                for plural in (
                    "resourceflavors",
                    "clusterqueues",
                    "localqueues",
                    "workloadpriorityclasses",
                    "cohorts",
                    "topologies",
                    "admissionchecks",
                    "multikueueclusters",
                    "multikueueconfigs",
                )
            ),
            ("kueue.x-k8s.io",),
            "Kueue quotas and queues",
        ),
        Project(
            "volcano",
            "volcano-sh/volcano",
            "v1.15.1",
            (
                "config/crd/volcano/bases/batch.volcano.sh_jobs.yaml",
                "config/crd/volcano/bases/scheduling.volcano.sh_queues.yaml",
                "config/crd/volcano/bases/scheduling.volcano.sh_podgroups.yaml",
            ),
            ("batch.volcano.sh", "scheduling.volcano.sh"),
            "Volcano jobs, queues and pod groups",
        ),
        Project(
            "training-operator",
            "kubeflow/trainer",  # the v1 Training Operator's last release lives in the renamed repo
            "v1.9.4",
            (
                "manifests/base/crds/kubeflow.org_pytorchjobs.yaml",
                "manifests/base/crds/kubeflow.org_mpijobs.yaml",
            ),
            ("kubeflow.org",),
            "Kubeflow Training Operator v1: PyTorchJob, MPIJob kubeflow.org/v1",
        ),
        Project(
            "mpi-operator",
            "kubeflow/mpi-operator",
            "v0.8.0",
            ("manifests/base/kubeflow.org_mpijobs.yaml",),
            ("kubeflow.org",),
            "MPI Operator: MPIJob kubeflow.org/v2beta1 (same CRD name as the Training Operator's; a cluster has one)",
        ),
        Project(
            "trainer",
            "kubeflow/trainer",
            "v2.3.0",
            (
                "manifests/base/crds/trainer.kubeflow.org_trainjobs.yaml",
                "manifests/base/crds/trainer.kubeflow.org_trainingruntimes.yaml",
                "manifests/base/crds/trainer.kubeflow.org_clustertrainingruntimes.yaml",
            ),
            ("trainer.kubeflow.org",),
            "Kubeflow Trainer v2: TrainJob and training runtimes",
        ),
        Project(
            "kserve",
            "kserve/kserve",
            "v0.20.0",
            (
                "config/crd/full/serving.kserve.io_inferenceservices.yaml",
                "config/crd/full/serving.kserve.io_servingruntimes.yaml",
                "config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
                "config/crd/full/llmisvc/serving.kserve.io_llminferenceservices.yaml",
            ),
            ("serving.kserve.io",),
            "KServe InferenceService, serving runtimes, LLMInferenceService",
        ),
        Project(
            "lws",
            "kubernetes-sigs/lws",
            "v0.10.0",
            ("config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml",),
            ("leaderworkerset.x-k8s.io",),
            "LeaderWorkerSet",
        ),
        Project(
            "jobset",
            "kubernetes-sigs/jobset",
            "v0.12.0",
            ("config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml",),
            ("jobset.x-k8s.io",),
            "JobSet",
        ),
        Project(
            "gpu-operator",
            "NVIDIA/gpu-operator",
            "v26.7.0",
            ("config/crd/bases/nvidia.com_clusterpolicies.yaml",),
            ("nvidia.com",),
            "NVIDIA GPU Operator ClusterPolicy",
        ),
    )
}

#: What `llmkube crds pull --all` fetches. The Training Operator v1 and the MPI Operator
#: both define mpijobs.kubeflow.org (v1 and v2beta1); both are pulled and the store keeps
#: both versions, as a repository may hold manifests for either.
ALL = tuple(PROJECTS)


def base_url() -> str:
    """Where raw files come from: $LLMKUBE_CRD_CATALOG_URL, else GitHub's raw-file host."""
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


@record(frozen=True)
class Wanted:
    """A parsed `project[@version]` argument."""

    project: Project
    version: str

    @property
    def targeted(self) -> bool:
        return self.version == self.project.version

    @property
    def label(self) -> str:
        return f"{self.project.name}@{self.version}"


def parse_wanted(text: str) -> Wanted | None:
    """`kueue` or `kueue@v0.19.2` → Wanted; None when the name is not a catalog project.

    A bare number (`kueue@0.19.2`) gets the `v` every catalogued project tags with.
    Raises ValueError for a known project with an unusable version.
    """
    name, at, version = text.partition("@")
    project = PROJECTS.get(name.strip().lower())
    if project is None:
        return None
    version = version.strip()
    if not at:
        return Wanted(project, project.version)
    if not _TAG.match(version) or ".." in version:
        raise ValueError(f"{version!r} is not a release tag")
    if version[0].isdigit():
        version = "v" + version
    return Wanted(project, version)


def projects_for_group(group: str) -> list[Project]:
    """The catalog projects whose CRDs define API group `group` (for a hint)."""
    return [p for p in PROJECTS.values() if group in p.groups]


__all__ = [
    "ALL",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "PROJECTS",
    "Project",
    "Wanted",
    "base_url",
    "parse_wanted",
    "projects_for_group",
]
