"""Training across machines with tf.distribute's MultiWorkerMirroredStrategy, driven by TF_CONFIG.

One process per host; each process is told the whole cluster and its own index, either through the
standard TF_CONFIG variable or through `fashion-edge train --workers host:port,... --worker-index I`
(which builds TF_CONFIG). Every worker computes its share of each batch and the gradients are
all-reduced, so the result is the model one host would train with the same global batch; only the
chief (worker 0) writes artifacts. A cluster of one is plain single-host training.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from fashion_edge.runtime.errors import UsageError


@dataclass(frozen=True)
class Cluster:
    workers_addresses: tuple[str, ...] = ()
    index: int = 0

    @property
    def workers(self) -> int:
        return max(len(self.workers_addresses), 1)

    @property
    def is_chief(self) -> bool:
        return self.index == 0

    @property
    def distributed(self) -> bool:
        return self.workers > 1

    @classmethod
    def from_flags(cls, workers: str | None, index: int | None) -> "Cluster | None":
        if not workers:
            if index:
                raise UsageError("--worker-index needs --workers")
            return None
        addresses = tuple(a.strip() for a in workers.split(",") if a.strip())
        if any(":" not in a for a in addresses):
            raise UsageError("--workers takes host:port,host:port,... (one per worker process)")
        if index is None or not 0 <= index < len(addresses):
            raise UsageError(f"--worker-index must be 0..{len(addresses) - 1} (this process's place in --workers)")
        return cls(addresses, index)

    @classmethod
    def from_environment(cls) -> "Cluster":
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            return cls()
        try:
            config = json.loads(raw)
            workers = tuple(config["cluster"]["worker"])
            task = config["task"]
            index = int(task["index"]) if task.get("type", "worker") == "worker" else -1
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"TF_CONFIG is not a tf.distribute cluster spec ({exc.__class__.__name__}); "
                             'expected {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": I}}') from None
        if not 0 <= index < len(workers):
            raise UsageError("TF_CONFIG: task must be a worker with an index into cluster.worker")
        return cls(workers, index)

    def tf_config(self) -> str:
        return json.dumps({"cluster": {"worker": list(self.workers_addresses)},
                           "task": {"type": "worker", "index": self.index}})

    def strategy(self, tf):
        """The distribution strategy; for a real cluster it must exist before any other TensorFlow op."""
        if not self.distributed:
            return tf.distribute.get_strategy()  # the default: no distribution
        os.environ["TF_CONFIG"] = self.tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()

    def distribute(self, tf, dataset):
        """Shard a dataset by data across workers (each worker sees its slice of every global batch)."""
        if not self.distributed:
            return dataset
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)


def prepare_model(model, sample_batch) -> None:
    """Work around two places where Keras 3's fit() breaks under MultiWorkerMirroredStrategy
    (keras-team/keras#20585, tensorflow/tensorflow#72388); tests/train/test_multiworker.py fails
    if a Keras upgrade changes either.

    1. fit() first builds the model symbolically from a batch it averages across replicas with
       `strategy.reduce`, which CollectiveAllReduceStrategy cannot do eagerly ("Attempt to convert
       a value (PerReplica...)"). Building from one local batch inside the scope creates the same
       state, and the symbolic build is skipped.
    2. Each step's logs (scalar loss and metrics) are averaged across workers with
       `strategy.reduce("MEAN", v, axis=0)`, which is invalid for scalars; they are averaged
       with axis=None instead (the same mean for a scalar per replica).
    """
    from keras.src.backend.tensorflow import trainer

    model._symbolic_build(data_batch=sample_batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    if getattr(trainer.reduce_per_replica, "_fashion_edge", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        import tensorflow as tf

        if reduction in ("auto", "mean") and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            def mean(v):
                rank = v.values[0].shape.rank if hasattr(v, "values") else getattr(v.shape, "rank", None)
                return strategy.reduce("MEAN", v, axis=None if rank == 0 else 0)
            return tf.nest.map_structure(mean, values)
        return original(values, strategy, reduction)

    reduce_per_replica._fashion_edge = True
    trainer.reduce_per_replica = reduce_per_replica
