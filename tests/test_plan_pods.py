"""The pod pieces every planner shares: labels, tolerations, /dev/shm, claims, env, resources."""

from __future__ import annotations

from llmkube.plan.pods import (
    claim_volume,
    container_resources,
    merge_env,
    secret_env,
    shm_volume,
    standard_labels,
    toleration,
)
from llmkube.specs.base import SecretKeyRef, Toleration


def test_standard_labels_name_the_object_and_llmkube():
    assert standard_labels("job", "training") == {
        "app.kubernetes.io/name": "job",
        "app.kubernetes.io/managed-by": "llmkube",
        "app.kubernetes.io/component": "training",
    }
    assert "app.kubernetes.io/component" not in standard_labels("job")


def test_a_toleration_without_a_value_is_exists():
    assert toleration(Toleration(key="gpu")) == {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert toleration(Toleration(key="gpu", value="h100", effect="NoExecute")) == {
        "key": "gpu", "operator": "Equal", "value": "h100", "effect": "NoExecute",
    }


def test_shm_volume_is_memory_backed_at_dev_shm():
    volume, mount = shm_volume("8Gi")
    assert volume == {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}
    assert mount == {"name": "dshm", "mountPath": "/dev/shm"}


def test_claim_volume_marks_read_only_on_both_sides_only_when_asked():
    volume, mount = claim_volume("ckpt", "pvc", "/ckpt")
    assert volume == {"name": "ckpt", "persistentVolumeClaim": {"claimName": "pvc"}}
    assert mount == {"name": "ckpt", "mountPath": "/ckpt"}
    volume, mount = claim_volume("ckpt", "pvc", "/ckpt", read_only=True)
    assert volume["persistentVolumeClaim"]["readOnly"] is True and mount["readOnly"] is True


def test_user_env_wins_and_comes_sorted_after_the_derived():
    derived = [{"name": "A", "value": "1"}, secret_env("HF_TOKEN", SecretKeyRef(name="hf"))]
    assert merge_env(derived, {"Z": "z", "A": "2"}) == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
        {"name": "A", "value": "2"},
        {"name": "Z", "value": "z"},
    ]


def test_container_resources_charge_dev_shm_to_the_memory_limit():
    assert container_resources(8, "64Gi", "16Gi", "nvidia.com/gpu", 2) == {
        "requests": {"cpu": 8, "memory": "64Gi", "nvidia.com/gpu": 2},
        "limits": {"memory": "80Gi", "nvidia.com/gpu": 2},
    }
    assert container_resources(None, None, None, "nvidia.com/mig-1g.10gb", 1) == {
        "requests": {"nvidia.com/mig-1g.10gb": 1},
        "limits": {"nvidia.com/mig-1g.10gb": 1},
    }


def test_container_resources_write_a_cpu_limit_only_when_given_and_never_below_the_request():
    assert container_resources(4, None, None, "nvidia.com/gpu", 1, cpu_limit=8) == {
        "requests": {"cpu": 4, "nvidia.com/gpu": 1},
        "limits": {"cpu": 8, "nvidia.com/gpu": 1},
    }
    # a limit alone is also the request, as Kubernetes would default it
    assert container_resources(None, None, None, "nvidia.com/gpu", 1, cpu_limit="500m")["requests"]["cpu"] == "500m"
