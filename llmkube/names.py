"""Kubernetes names llmkube writes and reads: resource names, label keys, annotations.

One place for every string another system defines (the GPU Operator, Kueue,
KServe, Knative, Kubernetes itself) or that llmkube stamps on its output, so
the planners that write a label and the rules that read it cannot drift apart.
"""

from __future__ import annotations

import re

# ---- API groups whose kinds llmkube recognises by group -----------------------

NVIDIA_GROUP = "nvidia.com"  # GPU Operator: ClusterPolicy (and the fictional MIGConfig)
VOLCANO_BATCH_GROUP = "batch.volcano.sh"  # Volcano's Job (not batch/v1 Job)
KNATIVE_SERVING_GROUP = "serving.knative.dev"  # Knative Service

# ---- NVIDIA GPU Operator: extended resources and node labels ------------------

GPU_RESOURCE = "nvidia.com/gpu"
GPU_RESOURCE_PREFIX = "nvidia.com/gpu."  # nvidia.com/gpu.shared (time-slicing with renameByDefault)
MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
# Every pool's MIG and sharing config in the GPU Operator's ConfigMaps is `llmkube-<pool>`
# (plan/mig.py mig_parted_config_name; cluster.py tells llmkube's configs from others by it).
POOL_CONFIG_PREFIX = "llmkube-"
# app.kubernetes.io/component of the GPU Operator's ConfigMaps and ClusterPolicy that Fleets emit.
GPU_CONFIG_COMPONENT = "gpu-config"
# nvidia.com/mig-3g.40gb, nvidia.com/mig-1g.10gb.shared: the profile is a MIG profile name
MIG_RESOURCE = re.compile(r"^nvidia\.com/mig-(?P<profile>[0-9]+g\.[0-9]+gb(\.[a-z.]+)?)$")
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by GPU Feature Discovery
MIG_CONFIG_LABEL = "nvidia.com/mig.config"  # which mig-parted layout a node takes
MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"  # which sharing config a node takes


def is_gpu_resource(name: str) -> bool:
    """A full GPU, a shared GPU or a MIG slice, as the device plugin advertises them."""
    return name == GPU_RESOURCE or name.startswith(GPU_RESOURCE_PREFIX) or bool(MIG_RESOURCE.fullmatch(name))


# ---- RDMA device plugins ------------------------------------------------------

# The NVIDIA Network Operator's examples name the RDMA shared device plugin's resource this
# (Mellanox/k8s-rdma-shared-dev-plugin's own example uses rdma/hca_shared_devices_a): a
# convention of the installer's ConfigMap, not a fixed name.
DEFAULT_RDMA_RESOURCE = "rdma/rdma_shared_device_a"
EFA_RESOURCE = "vpc.amazonaws.com/efa"  # aws-efa-k8s-device-plugin (aws/eks-charts)

# ---- Kueue ----------------------------------------------------------------------

KUEUE_GROUP = "kueue.x-k8s.io"
# The AdmissionCheck controllerName of MultiKueue (kueue v0.19.2 apis/kueue/v1beta2
# MultiKueueControllerName); Kueue also defaults Kubeflow jobs' managedBy to it.
MULTIKUEUE_CONTROLLER = "kueue.x-k8s.io/multikueue"
# Which cluster of a federation (MultiKueue) a rendered object belongs to; objects
# without it belong to the run's own (the manager) cluster.
CLUSTER_ANNOTATION = "llmkube.dev/cluster"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
KUEUE_PREFERRED_TOPOLOGY = "kueue.x-k8s.io/podset-preferred-topology"
KUEUE_REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-required-topology"
KUEUE_PODSET_GROUP = "kueue.x-k8s.io/podset-group-name"  # PodSets that share a flavor and a topology domain
KUEUE_SLICE_SIZE = "kueue.x-k8s.io/podset-slice-size"
KUEUE_SLICE_REQUIRED_TOPOLOGY = "kueue.x-k8s.io/podset-slice-required-topology"

# ---- KServe and Knative -------------------------------------------------------

KSERVE_ISVC_LABEL = "serving.kserve.io/inferenceservice"
KSERVE_DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
KSERVE_AUTOSCALER_CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"
KSERVE_GPU_RESOURCE_TYPES_ANNOTATION = "serving.kserve.io/gpu-resource-types"  # extra GPU-like resources, a JSON list
# Not a KServe setting (the field spec.predictor.canaryTrafficPercent is): rule LK301 looks for it.
KSERVE_CANARY_ANNOTATION = "serving.kserve.io/canaryTrafficPercent"
KNATIVE_PROGRESS_DEADLINE_ANNOTATION = "serving.knative.dev/progress-deadline"
KNATIVE_AUTOSCALING_CLASS_ANNOTATION = "autoscaling.knative.dev/class"
KSERVE_CONFIG_MAP = "inferenceservice-config"  # KServe's defaults (resources, deployment mode)
KNATIVE_FEATURES_CONFIG_MAP = "config-features"  # Knative Serving's kubernetes.podspec-* flags
# LLMInferenceService (KServe v0.20.0 pkg/constants/constants.go): the `app.kubernetes.io/component`
# of the pods of its main (decode) and prefill Deployments.
LLMISVC_COMPONENT_WORKLOAD = "llminferenceservice-workload"
LLMISVC_COMPONENT_PREFILL = "llminferenceservice-workload-prefill"
# Multus's secondary networks of a pod (k8s.v1.cni.cncf.io); KServe v0.20.0 copies annotations of this
# prefix from an LLMInferenceService to its pods (workload_single_node.go `approvedAnnotationPrefixes`).
MULTUS_NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"

# ---- LeaderWorkerSet (kubernetes-sigs/lws v0.10.0 `api/leaderworkerset/v1/leaderworkerset_types.go`) --

LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"  # on every pod of the set
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"  # "0" on the leader
# Injected into every container by the pod webhook (`pkg/utils/pod/pod_utils.go` `AddLWSVariables`):
# the leader's DNS name `<lws>-<group>.<subdomain>.<namespace>`, the group size, the pod's index.
LWS_LEADER_ADDRESS_ENV = "LWS_LEADER_ADDRESS"
LWS_GROUP_SIZE_ENV = "LWS_GROUP_SIZE"
LWS_WORKER_INDEX_ENV = "LWS_WORKER_INDEX"

# ---- Kubernetes -----------------------------------------------------------------

HOSTNAME_LABEL = "kubernetes.io/hostname"
APP_NAME_LABEL = "app.kubernetes.io/name"
APP_COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"

# ---- llmkube's own --------------------------------------------------------------

ENDPOINT_LABEL = "llmkube.dev/inference-endpoint"
TRAINING_JOB_LABEL = "llmkube.dev/training-job"
GPU_RESOURCES_ANNOTATION = "llmkube.dev/gpu-resources"  # on a ResourceFlavor: what its nodes advertise
IGNORE_ANNOTATION = "llmkube.dev/ignore"  # silences rule codes for one object
