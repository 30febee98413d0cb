"""Training on two machines: two worker processes on 127.0.0.1, each with its
TF_CONFIG, train under `keras_ae.devices.strategy()` (a
`MultiWorkerMirroredStrategy`) and must end where one process ends.

Three processes run tests/_multiworker_worker.py at once: worker 0 and worker
1 of a two-worker cluster, and a reference process without TF_CONFIG. Each
trains a dense autoencoder (Keras's own train_step), a VAE and a GAN (the
library's train_steps) for 2 epochs of 3 global batches of 16 images (the
same 48 images, in the same order, on every worker), from the same NumPy-drawn
starting weights, with plain SGD.

The global batch is split by the strategy: `fit` hands the tf.data pipeline to
`experimental_distribute_dataset`, and with `AutoShardPolicy.DATA` each global
batch is cut into replica batches of 8 and worker i keeps the i-th. So each
step the two workers together see exactly the 16 images one device sees, and
`scale_loss_for_replicas` (or Keras's loss scaling) makes the all-reduced sum
of their gradients the gradient of the mean over the 16. The autoencoder is
trained a second time ("autoencoder_arrays") as the course trains it: from
NumPy arrays, `fit(x, x, batch_size=16, shuffle=True)`, after
`keras.utils.set_random_seed(7)` in every process, so every worker shuffles
the same way and the shards of each epoch's batches are again one device's.

What "the same as one process" can mean differs by model:

- The autoencoders draw no noise, so the two workers must match a one-device
  run (the default strategy, one replica, the whole batch at once) up to
  float32 summation order: atol 1e-5 on every weight, which is >100x smaller
  than how far training moved them.
- The VAE (`Sampling`) and the GAN (latent vectors) draw noise through
  `keras_ae.devices.replica_seed`, which folds the *global* replica id into
  every seed, so that replicas, here the two workers, draw different noise. On
  one device a single draw covers the whole batch, so those runs differ from
  the workers' by construction (the test checks that they do, by ~1e-2). Their
  exact reference is a single process with a `MirroredStrategy` over two
  logical CPUs: its replicas 0 and 1 get the same halves of every batch as
  workers 0 and 1 and fold the same ids into the same seeds, so only the
  collective all-reduce over the network replaces the in-process one. The
  autoencoders are compared with that run too.

Both workers must hold bit-identical weights at the end (each applies the same
all-reduced gradients to the same weights).
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

WORKER_SCRIPT = Path(__file__).with_name("_multiworker_worker.py")
KINDS = ("autoencoder", "autoencoder_arrays", "vae", "gan")
# All three processes run at once; about 30 s on 2 shared cores.
TIMEOUT_S = 240
ATOL = 1e-5


def _free_ports(count):
    """Ports the OS hands out for port 0, all held open until all are chosen
    (so they differ); another process could still take one before a worker
    binds it."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _tail(path, num_lines=40):
    lines = Path(path).read_text(errors="replace").splitlines()
    # TensorFlow's C++ log lines (I0000/W0000/E0000 ...) drown the traceback.
    kept = [line for line in lines if line[:5] not in ("I0000", "W0000")]
    return "\n".join(kept[-num_lines:])


def _run_all(commands, out_dir, timeout_s):
    """Starts every command at once; kills all if one fails or time runs out.

    Returns {name: stdout and stderr text}. A worker whose peer died would wait
    for it in a collective op, so the first failure ends the run at once.
    """
    processes, logs, problem = {}, {}, None
    try:
        for name, (args, env) in commands.items():
            logs[name] = out_dir / f"{name}.log"
            with open(logs[name], "w") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, str(WORKER_SCRIPT), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**env, "PYTHONUNBUFFERED": "1"},
                    cwd=WORKER_SCRIPT.parent.parent,
                )
        deadline = time.monotonic() + timeout_s
        while problem is None:
            codes = {name: process.poll() for name, process in processes.items()}
            failed = [name for name, code in codes.items() if code not in (None, 0)]
            if failed:
                problem = f"{failed[0]} exited with code {codes[failed[0]]}"
                shown = failed[:1]
            elif None not in codes.values():
                break
            elif time.monotonic() > deadline:
                shown = [name for name, code in codes.items() if code is None]
                problem = (
                    f"{shown} still running after {timeout_s} s, killed (a worker "
                    "waits for its peers when the strategy starts and at every step)"
                )
            else:
                time.sleep(0.2)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    if problem is not None:
        pytest.fail(
            problem + "".join(f"\n--- {name}:\n{_tail(logs[name])}" for name in shown)
        )
    return {name: Path(log).read_text(errors="replace") for name, log in logs.items()}


def _load(out_dir, run, kind):
    with np.load(out_dir / f"{run}_{kind}.npz") as arrays:

        def stack(prefix):
            count = sum(key.startswith(prefix) for key in arrays.files)
            return [arrays[f"{prefix}{i}"] for i in range(count)]

        return {
            "weights": stack("weight_"),
            "initial": stack("initial_"),
            "trainable": stack("trainable_"),
            "losses": arrays["losses"],
        }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("multiworker")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    base_env = {key: value for key, value in os.environ.items()}
    base_env.pop("TF_CONFIG", None)
    # CPUs only, whatever the machine has: two processes would fight over one
    # GPU's memory, and the reference's replicas are two logical CPUs.
    base_env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    commands = {"reference": (["reference", str(out_dir)], base_env)}
    for index in range(2):
        task = {"type": "worker", "index": index}
        env = {**base_env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}
        commands[f"worker{index}"] = (["worker", str(out_dir)], env)
    started = time.monotonic()
    outputs = _run_all(commands, out_dir, TIMEOUT_S)
    results = {
        (run, kind): _load(out_dir, run, kind)
        for run in ("worker0", "worker1", "one_device", "mirrored")
        for kind in KINDS
    }
    return results, outputs, time.monotonic() - started


def _largest_gap(first, second):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(first, second, strict=True))


pytestmark = pytest.mark.slow


def test_each_worker_reports_the_multi_worker_strategy(runs):
    _, outputs, seconds = runs
    for index in range(2):
        assert (
            "keras_ae.devices: 1 CPU, no GPU or TPU: MultiWorkerMirroredStrategy "
            f"(2 replicas) over 2 workers; this is worker {index}, with CPU:0"
        ) in outputs[f"worker{index}"].splitlines()
    print(f"three processes ran in {seconds:.1f} s")


@pytest.mark.parametrize("kind", KINDS)
def test_both_workers_end_with_identical_weights(runs, kind):
    results, _, _ = runs
    worker0, worker1 = results["worker0", kind], results["worker1", kind]
    for first, second in zip(worker0["weights"], worker1["weights"], strict=True):
        np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(worker0["losses"], worker1["losses"])


@pytest.mark.parametrize("kind", KINDS)
def test_workers_match_one_process_with_the_same_replicas(runs, kind):
    results, _, _ = runs
    worker, mirrored = results["worker0", kind], results["mirrored", kind]
    # The starting weights were the same, and training moved them far more
    # than the tolerance: the match is not the start's.
    for start, other in zip(worker["initial"], mirrored["initial"], strict=True):
        np.testing.assert_array_equal(start, other)
    assert _largest_gap(worker["trainable"], worker["initial"]) > 100 * ATOL
    for first, second in zip(worker["weights"], mirrored["weights"], strict=True):
        np.testing.assert_allclose(first, second, rtol=0, atol=ATOL)
    # The logged loss is the mean over both workers' halves of the batch.
    np.testing.assert_allclose(worker["losses"], mirrored["losses"], rtol=1e-5)


@pytest.mark.parametrize("kind", ["autoencoder", "autoencoder_arrays"])
def test_noise_free_autoencoder_matches_one_device(runs, kind):
    results, _, _ = runs
    worker, one_device = results["worker0", kind], results["one_device", kind]
    assert _largest_gap(worker["trainable"], worker["initial"]) > 100 * ATOL
    for first, second in zip(worker["weights"], one_device["weights"], strict=True):
        np.testing.assert_allclose(first, second, rtol=0, atol=ATOL)
    np.testing.assert_allclose(worker["losses"], one_device["losses"], rtol=1e-5)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_noisy_models_differ_from_one_device_by_construction(runs, kind):
    # One device draws the noise of all 16 images with one seed; each worker
    # draws its 8 with its replica id folded in. Same data, same start, other
    # noise: the runs part, which is why the exact reference above is the
    # two-replica MirroredStrategy and not one device.
    results, _, _ = runs
    worker, one_device = results["worker0", kind], results["one_device", kind]
    assert _largest_gap(worker["weights"], one_device["weights"]) > 1e-3
