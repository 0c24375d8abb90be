"""Where training runs: logical CPU devices and the tf.distribute strategy."""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)


def configure_devices(cpu_replicas: int) -> None:
    """Split the physical CPU into `cpu_replicas` logical devices when there is no GPU.

    Must run before TensorFlow initialises its devices (first op, first
    `list_logical_devices`...). If that already happened, logs a warning and
    carries on with the devices as they are.
    """
    if cpu_replicas <= 1:
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        log.info("GPUs present: ignoring cpu_replicas=%d", cpu_replicas)
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == cpu_replicas:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_replicas)]
        )
    except RuntimeError as error:
        have = len(tf.config.list_logical_devices("CPU"))
        if have == cpu_replicas:
            return
        log.warning(
            "cannot split the CPU into %d logical devices: TensorFlow already initialised its "
            "devices (%s); continuing with %d CPU device(s). Call configure_devices() first thing, "
            "e.g. run `python -m components.trainer --cpu-replicas %d`.",
            cpu_replicas,
            error,
            have,
            cpu_replicas,
        )
        return
    log.info("split the CPU into %d logical devices", cpu_replicas)


def _tf_config_workers() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except json.JSONDecodeError:
        return 0
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy():
    """MultiWorkerMirrored when TF_CONFIG names several workers; else Mirrored over
    the GPUs, else over the logical CPUs when there are 2+; else the default strategy."""
    import tensorflow as tf

    if _tf_config_workers() > 1:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif gpus := tf.config.list_logical_devices("GPU"):
        strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
    elif len(cpus := tf.config.list_logical_devices("CPU")) >= 2:
        # NCCL is GPU-only: reduce on the first CPU device.
        strategy = tf.distribute.MirroredStrategy(
            [d.name for d in cpus], cross_device_ops=tf.distribute.ReductionToOneDevice()
        )
    else:
        strategy = tf.distribute.get_strategy()
    log.info("strategy %s with %d replica(s)", strategy_name(strategy), strategy.num_replicas_in_sync)
    return strategy


def strategy_name(strategy) -> str:
    return type(strategy).__name__.lstrip("_")


def worker_role(strategy) -> str | None:
    """None for the chief (or a single machine); "worker-3" etc. for the other workers,
    which must not write into the shared checkpoint, export and log folders."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if not task_type or task_type == "chief":
        return None
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    if task_type == "worker" and resolver.task_id == 0 and not has_chief:
        return None
    return f"{task_type}-{resolver.task_id}"
