"""Picks a `tf.distribute` strategy for the machine a notebook runs on.

A notebook builds and compiles its models inside `strategy().scope()`; the same
cell then trains on a laptop CPU, one Colab GPU, several GPUs, a Colab TPU, or
several machines at once when the `TF_CONFIG` environment variable describes a
cluster of workers (see `strategy`).

Example:
    On a CPU the line reads `1 CPU, no GPU or TPU: default strategy (1 replica)`:

    >>> import keras
    >>> from keras_ae import devices
    >>> strategy = devices.strategy()
    keras_ae.devices: ... (... replica...)
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8)])
    ...     model.compile(optimizer="adam", loss="mse")
"""

import glob
import json
import os

import keras

from keras_ae._backend import require_tensorflow_backend

__all__ = [
    "strategy",
    "multi_worker_cluster",
    "describe_devices",
    "scale_loss_for_replicas",
    "replica_seed",
    "mixed_precision_policy",
    "use_mixed_precision",
]

_PREFIX = "keras_ae.devices:"


def _local_tpu_attached():
    """Whether this host has TPU chips of its own, found without any network call.

    TPU VMs (Colab's TPU runtime among them) expose their chips as /dev/accel*
    (v2-v4) or /dev/vfio/<n> (v5e and later). Without such evidence no TPU
    resolver is created at all, so a CPU or GPU machine never waits on one.
    """
    if glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"):
        return True
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("TPU"))


def _tpu_strategy(verbose):
    """Returns a `TPUStrategy` over the local TPU, or None if it cannot start."""
    import tensorflow as tf

    try:
        # tpu="local" means "directly attached": unlike the default (""), it
        # never asks the GCE metadata server or a remote TPU for an address.
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as error:  # Any failure means: no usable TPU here.
        if verbose:
            first_line = (str(error).strip().splitlines() or [""])[0]
            print(f"{_PREFIX} TPU found but not usable ({first_line}); not using it")
        return None


_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)
# Jobs that train under MultiWorkerMirroredStrategy, and one that may sit beside
# them (an evaluator runs its own program and takes no part in the training).
_TRAINING_JOBS = ("chief", "worker")
_OTHER_JOBS = ("evaluator",)


def _tf_config_error(problem, raw):
    return ValueError(
        f"Expected the TF_CONFIG environment variable to describe a cluster as "
        f"JSON, e.g. {_TF_CONFIG_EXAMPLE}, but {problem}. Received: "
        f"TF_CONFIG={raw!r}"
    )


def multi_worker_cluster():
    """Reads the cluster that `TF_CONFIG` describes, if it has several workers.

    Only reads the environment variable: it runs no TensorFlow op, so
    `strategy()` can call it before `MultiWorkerMirroredStrategy` is created.

    Returns:
        None when `TF_CONFIG` is unset, empty, or names at most one training
        worker (one machine: `strategy()` behaves as without it). Otherwise a
        dict with `num_workers` (tasks of the jobs `"chief"` and `"worker"`),
        `task_type` and `task_index` (this machine's task).

    Raises:
        ValueError: If `TF_CONFIG` is not JSON, or not a cluster that
            `MultiWorkerMirroredStrategy` can train on (a `"ps"` job, an
            unknown job, addresses that are not a list of "host:port" strings,
            or a task that is missing or not in the cluster).

    Example:
        >>> from unittest import mock
        >>> config = {"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
        ...           "task": {"type": "worker", "index": 1}}
        >>> with mock.patch.dict(os.environ, TF_CONFIG=json.dumps(config)):
        ...     print(multi_worker_cluster())
        {'num_workers': 2, 'task_type': 'worker', 'task_index': 1}
        >>> with mock.patch.dict(os.environ, TF_CONFIG=""):
        ...     print(multi_worker_cluster())  # one machine
        None
    """
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _tf_config_error(f"it is not valid JSON ({error})", raw) from None
    if not isinstance(config, dict):
        raise _tf_config_error("it is not a JSON object", raw)
    cluster = config.get("cluster") or {}
    if not isinstance(cluster, dict):
        raise _tf_config_error('its "cluster" is not an object', raw)
    for job, addresses in cluster.items():
        if job == "ps":
            raise _tf_config_error(
                'it has a "ps" job: parameter servers need '
                "tf.distribute.experimental.ParameterServerStrategy, which "
                "keras_ae.devices.strategy() does not create",
                raw,
            )
        if job not in _TRAINING_JOBS + _OTHER_JOBS:
            raise _tf_config_error(
                f"its cluster has a job {job!r}; expected only "
                f"{_TRAINING_JOBS + _OTHER_JOBS}",
                raw,
            )
        if not isinstance(addresses, list) or not all(
            isinstance(address, str) and ":" in address for address in addresses
        ):
            raise _tf_config_error(
                f'the addresses of job "{job}" are not a list of "host:port" strings',
                raw,
            )
    if len(cluster.get("chief", ())) > 1:
        raise _tf_config_error('its "chief" job has more than one address', raw)
    num_workers = sum(len(cluster.get(job, ())) for job in _TRAINING_JOBS)
    if num_workers <= 1:
        return None
    task = config.get("task")
    task_type = task.get("type") if isinstance(task, dict) else None
    task_index = task.get("index") if isinstance(task, dict) else None
    if (
        task_type not in _TRAINING_JOBS
        or not isinstance(task_index, int)
        or isinstance(task_index, bool)
        or not 0 <= task_index < len(cluster.get(task_type, ()))
    ):
        raise _tf_config_error(
            'its "task" is not one of the cluster\'s training tasks: expected '
            '{"type": "worker" or "chief", "index": i} with i a position in that '
            "job's list of addresses",
            raw,
        )
    return {
        "num_workers": num_workers,
        "task_type": task_type,
        "task_index": task_index,
    }


def _keras_compatible_multi_worker_class():
    """`MultiWorkerMirroredStrategy` with a `reduce` that Keras 3's `fit` can use.

    Keras 3's TensorFlow trainer calls, on a multi-worker strategy,
    `strategy.reduce("MEAN", (x, y), axis=None)` on the first batch (to build
    the model) and `strategy.reduce("MEAN", loss, axis=0)` on every scalar it
    logs. TensorFlow's `MultiWorkerMirroredStrategy.reduce` takes one value,
    not a tuple, and a scalar has no axis 0, so both raise and `fit` cannot
    run (keras-team/keras#20585, tensorflow/tensorflow#72388; seen here with
    Keras 3.15 and TensorFlow 2.21). This subclass reduces each value of a
    structure on its own and reduces scalars across replicas only, which is
    what Keras means by both calls; everything else is TensorFlow's class.
    tests/test_multiworker.py trains with `fit` under it on two workers.
    """
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            def reduce_one(one_value):
                local = self.experimental_local_results(one_value)[0]
                one_axis = None if local.shape.rank == 0 else axis
                return super(MultiWorkerMirroredStrategy, self).reduce(
                    reduce_op, one_value, axis=one_axis
                )

            return tf.nest.map_structure(reduce_one, value)

    return MultiWorkerMirroredStrategy


def _multi_worker_strategy():
    """Creates a `MultiWorkerMirroredStrategy` from `TF_CONFIG`, explaining failures."""
    strategy_class = _keras_compatible_multi_worker_class()
    try:
        return strategy_class()
    except RuntimeError as error:
        raise RuntimeError(
            "Could not create a MultiWorkerMirroredStrategy for the cluster in "
            "TF_CONFIG. It must be created at the start of the program, before "
            "any TensorFlow op runs or any model is built: call "
            f"keras_ae.devices.strategy() first. TensorFlow said: {error}"
        ) from error


def strategy(devices=None, *, verbose=True):
    """Returns the distribution strategy for this machine and prints one line.

    When the `TF_CONFIG` environment variable describes a cluster of two or
    more workers (see `multi_worker_cluster`), a
    `tf.distribute.MultiWorkerMirroredStrategy`: every worker runs the same
    program, each over its local GPUs (or its CPU), and at every step the
    replicas of all workers sum their gradients of replica-scaled losses, as
    the replicas of one machine do under `MirroredStrategy`. Call `strategy()`
    at the start of the program, before any other TensorFlow op, as that
    strategy requires. Otherwise, in order of preference: a `tf.distribute.TPUStrategy`
    when a TPU is attached to this host, a `tf.distribute.MirroredStrategy`
    over all GPUs when there are several, else the default strategy (one CPU or
    one GPU, no distribution).

    A custom `train_step` that computes a mean loss over its own batch should
    pass it through `scale_loss_for_replicas` before taking gradients: each
    replica sees its share of the global batch and the optimizer sums the
    replicas' gradients.

    Args:
        devices: Optional list of device names, e.g. `["/cpu:0", "/cpu:1"]` or
            `["/gpu:0", "/gpu:1"]`: forces a `MirroredStrategy` over exactly
            these devices (no TPU check). Not allowed with a multi-worker
            `TF_CONFIG`: choose a worker's GPUs with `CUDA_VISIBLE_DEVICES`.
        verbose: Whether to print the one-line summary (with the number of
            workers under `MultiWorkerMirroredStrategy`).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: If `TF_CONFIG` is malformed, or given with `devices`.
        RuntimeError: If a `MultiWorkerMirroredStrategy` cannot start (for
            example because TensorFlow ops ran before `strategy()`).

    Example:
        With two GPUs the line ends `MirroredStrategy (2 replicas) over GPU:0,
        GPU:1`:

        >>> chosen = strategy()
        keras_ae.devices: ... (... replica...)
        >>> chosen.num_replicas_in_sync == describe_devices(chosen)["num_replicas"]
        True

        With `TF_CONFIG` naming two workers, each worker prints (worker 0 here;
        tests/test_multiworker.py checks this line on two local workers):

        >>> # Not run as a doctest: it needs the two workers of TF_CONFIG.
        >>> chosen = strategy()  # doctest: +SKIP
        keras_ae.devices: 1 CPU, no GPU or TPU: MultiWorkerMirroredStrategy
        (2 replicas) over 2 workers; this is worker 0, with CPU:0
    """
    require_tensorflow_backend("keras_ae.devices.strategy")
    import tensorflow as tf

    cluster = multi_worker_cluster()  # Reads TF_CONFIG; runs no TensorFlow op.
    if devices is not None:
        if isinstance(devices, str) or not devices:
            raise ValueError(
                "Expected devices to be a non-empty list of device names such as "
                f'["/cpu:0", "/cpu:1"]. Received: devices={devices!r}'
            )
        if cluster is not None:
            raise ValueError(
                "Expected devices=None when TF_CONFIG describes a cluster of "
                f"{cluster['num_workers']} workers: MultiWorkerMirroredStrategy "
                "uses each worker's local GPUs (choose them with "
                f"CUDA_VISIBLE_DEVICES). Received: devices={devices!r}"
            )
        chosen = tf.distribute.MirroredStrategy(devices=list(devices))
    elif cluster is not None:
        chosen = _multi_worker_strategy()
    else:
        chosen = _tpu_strategy(verbose) if _local_tpu_attached() else None
        if chosen is None and len(tf.config.list_physical_devices("GPU")) > 1:
            chosen = tf.distribute.MirroredStrategy()
        if chosen is None:
            chosen = tf.distribute.get_strategy()
    if verbose:
        print(f"{_PREFIX} {describe_devices(chosen)['summary']}")
    return chosen


def _strategy_name(chosen):
    import tensorflow as tf

    # tf.distribute.MultiWorkerMirroredStrategy is an alias of a class named
    # CollectiveAllReduceStrategy; report the name users create it by.
    if isinstance(chosen, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    name = type(chosen).__name__
    # The default strategy's class is private (_DefaultDistributionStrategy).
    return "default" if name.startswith("_Default") else name


def _worker_devices(chosen):
    return list(getattr(chosen.extended, "worker_devices", ()))


def _plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _cluster_of(chosen):
    """`(num_workers, "worker 0")` of a multi-worker strategy, else `(1, None)`."""
    resolver = getattr(chosen, "cluster_resolver", None)
    if resolver is None or _strategy_name(chosen) != "MultiWorkerMirroredStrategy":
        return 1, None
    jobs = resolver.cluster_spec().as_dict()
    num_workers = sum(len(jobs.get(job, ())) for job in _TRAINING_JOBS)
    if num_workers <= 1:
        return 1, None
    return num_workers, f"{resolver.task_type} {resolver.task_id}"


def describe_devices(strategy=None):
    """Describes the devices TensorFlow sees and the strategy in use, cheaply.

    Only lists physical devices: it starts no TPU system and creates no strategy,
    so a report or a notebook's first cell can call it freely.

    Args:
        strategy: The `tf.distribute.Strategy` a notebook uses (e.g. the one
            `strategy()` returned). Default: the strategy in scope, which
            outside any `strategy.scope()` is the default strategy.

    Returns:
        A dict with keys `cpus`, `gpus`, `tpus` (counts of physical devices;
        `tpus` counts TPU chips found on this host if TensorFlow lists none),
        `cpu_cores` (`os.cpu_count()`), `gpu_names` (list of str), `strategy`
        (class name, or "default"), `num_replicas` (int, over all workers),
        `num_workers` (int: machines training together, 1 unless under a
        multi-worker strategy), `task` (this worker, e.g. `"worker 0"`, or None
        on one machine) and `summary` (the line `strategy()` prints, without
        its prefix).

    Example:
        Outside any `strategy.scope()` (on a CPU the summary reads `'1 CPU, no
        GPU or TPU: default strategy (1 replica)'`):

        >>> info = describe_devices()
        >>> info["strategy"], info["num_replicas"], info["num_workers"], info["task"]
        ('default', 1, 1, None)
        >>> info["summary"]
        '1 CPU, ...: default strategy (1 replica)'
    """
    import tensorflow as tf

    if strategy is None:
        strategy = tf.distribute.get_strategy()
    cpus = len(tf.config.list_physical_devices("CPU"))
    gpus = tf.config.list_physical_devices("GPU")
    tpus = len(tf.config.list_physical_devices("TPU"))
    if not tpus:
        tpus = len(glob.glob("/dev/accel*")) or len(glob.glob("/dev/vfio/[0-9]*"))
    gpu_names = []
    for gpu in gpus:
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:  # Details are optional; some builds do not provide them.
            details = {}
        gpu_names.append(details.get("device_name", gpu.name))
    name = _strategy_name(strategy)
    num_replicas = int(strategy.num_replicas_in_sync)
    accelerators = [_plural(len(gpus), "GPU")] if gpus else []
    accelerators += [_plural(tpus, "TPU chip")] if tpus else []
    summary = ", ".join([_plural(cpus, "CPU")] + (accelerators or ["no GPU or TPU"]))
    strategy_text = "default strategy" if name == "default" else name
    summary += f": {strategy_text} ({_plural(num_replicas, 'replica')})"
    num_workers, task = _cluster_of(strategy)
    if name == "MirroredStrategy" or task is not None:
        local_devices = [d.split("device:")[-1] for d in _worker_devices(strategy)]
    if name == "MirroredStrategy":
        summary += " over " + ", ".join(local_devices)
    elif task is not None:
        summary += f" over {num_workers} workers; this is {task}, with "
        summary += ", ".join(local_devices)
    return {
        "cpus": cpus,
        "gpus": len(gpus),
        "tpus": tpus,
        "cpu_cores": os.cpu_count(),
        "gpu_names": gpu_names,
        "strategy": name,
        "num_replicas": num_replicas,
        "num_workers": num_workers,
        "task": task,
        "summary": summary,
    }


def scale_loss_for_replicas(loss):
    """Turns a per-replica mean loss into the share that gives global gradients.

    Under `MirroredStrategy` or `TPUStrategy` with R replicas, each replica's
    `train_step` sees 1/R of the global batch, and the optimizer *sums* the R
    replicas' gradients. Dividing each replica's batch-mean loss by R makes that
    sum the gradient of the mean over the global batch, exactly as on one device
    (for equal replica batches). With one replica this returns `loss` unchanged.
    Report the unscaled loss in metrics; take gradients of the scaled one.

    Args:
        loss: Scalar tensor, the mean loss over this replica's batch.

    Returns:
        `loss / num_replicas_in_sync` of the strategy in scope.

    Example:
        In a `train_step`, `layer` would be the model and `x` its batch:

        >>> import tensorflow as tf
        >>> layer, x = keras.layers.Dense(1), tf.ones((4, 3))
        >>> with tf.GradientTape() as tape:
        ...     loss = tf.reduce_mean(tf.square(layer(x)))
        ...     scaled_loss = scale_loss_for_replicas(loss)
        >>> grads = tape.gradient(scaled_loss, layer.trainable_weights)
        >>> bool(scaled_loss == loss)  # one replica: unchanged
        True
    """
    import tensorflow as tf

    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if num_replicas == 1:
        return loss
    return loss / tf.cast(num_replicas, loss.dtype)


class _ReplicaSeedGenerator(keras.random.SeedGenerator):
    """Hands out the seeds of a `SeedGenerator` with one replica's id folded in.

    A view, not a generator of its own: it owns no state (creating a variable
    inside a traced `train_step` would fail), and each `next()` advances the
    wrapped generator exactly as a direct draw from it would. It relies only on
    the public side of `SeedGenerator`: `keras.random` functions take a seed
    from `next()` (tested in tests/test_devices.py), and `get_config`, `name`,
    `backend` and `state` are those of the wrapped generator.
    """

    def __init__(self, seed_generator, replica_id):  # No super().__init__: no state.
        self.name = f"{seed_generator.name}_replica"
        self.backend = seed_generator.backend
        self.seed_generator = seed_generator
        self.replica_id = replica_id

    @property
    def state(self):
        return self.seed_generator.state

    def get_config(self):
        return self.seed_generator.get_config()

    def next(self, ordered=True):
        import tensorflow as tf

        seed = self.seed_generator.next(ordered=ordered)
        # The state is int64; XLA's stateless ops take int32 seeds only. Keras
        # maps int64 seeds to int32 the same way before every random op.
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        replica_id = tf.cast(self.replica_id, tf.int32)
        return tf.random.experimental.stateless_fold_in(seed, replica_id)


def replica_seed(seed_generator):
    """Returns a `seed` for `keras.random` that differs from replica to replica.

    Under `MirroredStrategy` or `TPUStrategy` a model's `SeedGenerator` is
    mirrored: every replica holds the same state, so every replica would draw
    the *same* noise for its share of the batch (the same latent vectors, the
    same corruption, the same `epsilon`). Inside a replica of such a strategy
    this returns a view of `seed_generator` whose every seed has the replica's
    id folded in (`tf.random.experimental.stateless_fold_in`), so the replicas
    draw independent noise while the generator still advances once per draw.
    Everywhere else (one device, or outside `strategy.run`) it returns
    `seed_generator` itself, so the draws are exactly those of
    `seed=seed_generator`.

    Under `MultiWorkerMirroredStrategy` the replica id is the global one
    (worker 0's replicas first, then worker 1's, ...): replicas on different
    machines draw different noise too, and every worker's generator advances
    the same way. A run on W workers of L replicas each therefore draws
    exactly the noise of a one-machine `MirroredStrategy` with W * L replicas,
    and not that of one device, where a single draw covers the whole batch.

    Args:
        seed_generator: The `keras.random.SeedGenerator` of a layer or model.

    Returns:
        A `keras.random.SeedGenerator` (`seed_generator` itself on one replica),
        to pass as `seed=` to `keras.random.normal`, `keras.random.uniform` or
        any function that accepts one, such as `keras_ae.data.corrupt`.

    Example:
        In a layer's `call`, the generator would be `self.seed_generator`:

        >>> generator = keras.random.SeedGenerator(0)
        >>> replica_seed(generator) is generator  # one device: itself
        True
        >>> tuple(keras.random.normal((2, 3), seed=replica_seed(generator)).shape)
        (2, 3)
    """
    import tensorflow as tf

    if not isinstance(seed_generator, keras.random.SeedGenerator):
        raise ValueError(
            "Expected seed_generator to be a keras.random.SeedGenerator. "
            f"Received: seed_generator={seed_generator!r}"
        )
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return seed_generator
    return _ReplicaSeedGenerator(seed_generator, context.replica_id_in_sync_group)


# The policy per NVIDIA compute capability, newest first: bfloat16 from Ampere
# (8.0) on; float16 with tensor cores from Volta (7.0) on; float32 before.
_GPU_POLICIES = (((8, 0), "mixed_bfloat16"), ((7, 0), "mixed_float16"))


def _compute_capability(gpu):
    import tensorflow as tf

    try:
        capability = tf.config.experimental.get_device_details(gpu).get(
            "compute_capability"
        )
    except Exception:  # Details are optional; some builds do not provide them.
        return None
    return None if capability is None else tuple(capability)


def mixed_precision_policy():
    """Returns the Keras dtype policy that is fast and safe on this machine.

    - `"mixed_bfloat16"` on a TPU and on NVIDIA GPUs of compute capability 8.0
      or newer (A100, L4, H100, ...): bfloat16 has the exponent range of
      float32, so gradients neither underflow nor overflow.
    - `"mixed_float16"` on GPUs of compute capability 7.0 to 7.9 (V100, T4):
      their tensor cores compute in float16 but not in bfloat16. float16's
      small range needs loss scaling: `compile` wraps the optimizer in a
      `keras.optimizers.LossScaleOptimizer`, Keras's own `train_step` scales
      the loss, and a custom `train_step` must pass its loss through
      `optimizer.scale_loss` before taking gradients.
    - `"float32"` on CPUs (mixed precision is slower there), on older GPUs,
      and when a GPU's compute capability is unknown.

    With several GPUs, the oldest one decides.

    Returns:
        `"mixed_bfloat16"`, `"mixed_float16"` or `"float32"`.
    """
    import tensorflow as tf

    if _local_tpu_attached():
        return "mixed_bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [_compute_capability(gpu) for gpu in gpus]
    if not gpus or None in capabilities:
        return "float32"
    oldest = min(capabilities)
    for lowest_capability, policy in _GPU_POLICIES:
        if oldest >= lowest_capability:
            return policy
    return "float32"


def use_mixed_precision(policy="auto", *, verbose=True):
    """Sets Keras's global dtype policy; call it before building models.

    The builders of `keras_ae.models.autoencoders`, `keras_ae.models.vae_builders`,
    `keras_ae.models.gan_builders` and the models of `keras_ae.train.registry` keep
    the
    layers whose outputs enter a loss or a penalty in float32 (codes, pixels,
    a VAE's mean and log-variance, a discriminator's logits), so their losses
    are computed in float32; weights stay float32 too. Models you build
    yourself (and those of `keras_ae.models.applications`) need `dtype="float32"` on
    such layers.

    Args:
        policy: `"auto"` (the result of `mixed_precision_policy()`: float16 on
            GPUs of compute capability 7.x, bfloat16 on newer GPUs and TPUs,
            float32 on CPUs), `"float32"`, `"mixed_bfloat16"` or
            `"mixed_float16"`. Under `"mixed_float16"` `compile` wraps the
            optimizer in a `LossScaleOptimizer`, which divides the gradients
            by its loss scale: a custom `train_step` must take gradients of
            `self.optimizer.scale_loss(loss)`.
        verbose: Whether to print the chosen policy.

    Returns:
        The name of the policy now in force.

    Example:
        `use_mixed_precision()` chooses `float32` on a CPU, `mixed_float16` on
        a T4; here a policy is forced, then the default restored:

        >>> use_mixed_precision("mixed_bfloat16")
        keras_ae.devices: dtype policy mixed_bfloat16
        'mixed_bfloat16'
        >>> layer = keras.layers.Dense(4)
        >>> layer.compute_dtype, layer.variable_dtype
        ('bfloat16', 'float32')
        >>> use_mixed_precision("float32", verbose=False)  # back to the default
        'float32'
    """
    allowed = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
    if policy not in allowed:
        raise ValueError(f"Expected policy in {allowed}. Received: policy={policy!r}")
    name = mixed_precision_policy() if policy == "auto" else policy
    keras.config.set_dtype_policy(name)
    if verbose:
        print(f"{_PREFIX} dtype policy {name}")
    return name
