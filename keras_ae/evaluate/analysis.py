"""Measurements of trained models: code sensitivity, linear probes and timing.

These are the numbers the notebooks put next to a reconstruction error, to say
what a regularizer bought and what it cost:

- `code_sensitivity` measures how far the code moves when the input is nudged,
  `||f(x + eps) - f(x)|| / ||eps||` for Gaussian `eps` (contractive autoencoders).
- `linear_probe_accuracy` fits a logistic regression on frozen features and
  reports its test accuracy: how much of the label a code exposes linearly.
- `time_callable` times any zero-argument callable, best of several repeats;
  `time_callables` times several in turns, so that they can be compared.
"""

import statistics
import time

import numpy as np

from keras_ae._validation import check_int
from keras_ae.utils import predict_batches

__all__ = [
    "code_sensitivity",
    "linear_probe_accuracy",
    "time_callable",
    "time_callables",
    "spread",
    "relative_sensitivity",
]


def _encode(encoder, x, batch_size):
    """Returns the encoder's codes of `x`, flattened to (N, code units), float64."""
    codes = predict_batches(encoder, x, batch_size).astype("float64")
    return codes.reshape(len(codes), -1)


def code_sensitivity(
    encoder,
    x,
    noise_stddev=0.05,
    *,
    num_draws=1,
    seed=0,
    batch_size=256,
    per_sample=False,
    directions=None,
):
    """Measures how much an encoder's code moves when its input is nudged.

    For each input `x_n` and each of `num_draws` draws of Gaussian noise `eps`
    (every input value independent, standard deviation `noise_stddev`, not
    clipped to the pixel range), the sensitivity is the ratio
    `||f(x_n + eps) - f(x_n)|| / ||eps||` of Euclidean norms (code flattened,
    input flattened). For a linear map `f(x) = x W` it lies between the smallest
    and largest singular value of `W`; for a smooth encoder and small noise its
    mean square approaches `||J_f(x)||_F^2 / input_dim`, the Jacobian's squared
    Frobenius norm per input dimension. A contractive encoder has a small one.

    The noise comes from `numpy.random.default_rng(seed).normal(size=(num_draws,
    *x.shape))`, so a run repeats exactly and a test can redraw it.

    With `directions`, each input is instead moved along its own given
    direction (for example towards another image of the same class), by a step
    as long as a typical Gaussian `eps`: `eps_n = noise_stddev * sqrt(input_dim)
    * d_n / ||d_n||`. Comparing the two tells whether an encoder is more
    sensitive along some directions (the data's) than along random ones.

    Args:
        encoder: A model (or any callable on a batch) mapping inputs to codes.
        x: Inputs, a NumPy array `(N, ...)` in the encoder's input shape.
        noise_stddev: Positive float, the standard deviation of `eps`.
        num_draws: Number of noise draws per input (averaged).
        seed: Integer seed of the noise.
        batch_size: Inputs encoded per call.
        per_sample: If True, return one value per input (averaged over draws).
        directions: Optional array shaped like `x`, one nonzero direction per
            input, used instead of random noise (then `num_draws` must be 1).

    Returns:
        The mean ratio over inputs and draws (a float), or a NumPy array `(N,)`
        if `per_sample=True`.

    Example:
        >>> x = np.random.default_rng(0).random((10, 8, 8, 1))
        >>> sensitivity = code_sensitivity(lambda x: 2 * x, x)  # a linear encoder
        >>> print(f"code moves {sensitivity:.3f} per unit of input change")
        code moves 2.000 per unit of input change
    """
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            "Expected a non-empty batch of inputs (N, ...). "
            f"Received: x.shape={x.shape}"
        )
    if (
        isinstance(noise_stddev, bool)
        or not isinstance(noise_stddev, (int, float, np.number))
        or not noise_stddev > 0
    ):
        raise ValueError(
            f"Expected noise_stddev > 0. Received: noise_stddev={noise_stddev!r}"
        )
    num_draws = check_int("num_draws", num_draws, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if directions is None:
        rng = np.random.default_rng(seed)
        noise = rng.normal(size=(num_draws, *x.shape)) * float(noise_stddev)
    else:
        directions = np.asarray(directions, dtype="float64")
        if directions.shape != x.shape or num_draws != 1:
            raise ValueError(
                "Expected directions shaped like x and num_draws=1. Received: "
                f"directions.shape={directions.shape}, x.shape={x.shape}, "
                f"num_draws={num_draws}"
            )
        flat = directions.reshape(len(x), -1)
        lengths = np.linalg.norm(flat, axis=1)
        if not np.all(lengths > 0):
            raise ValueError(
                "Expected a nonzero direction for every input. Received: "
                f"{int(np.sum(lengths == 0))} zero directions"
            )
        step = float(noise_stddev) * np.sqrt(flat.shape[1]) / lengths
        noise = (flat * step[:, None]).reshape((1, *x.shape))
    clean = _encode(encoder, x, batch_size)
    ratios = np.empty((num_draws, len(x)))
    for draw, eps in enumerate(noise):
        moved = _encode(encoder, (x + eps).astype("float32"), batch_size)
        eps_norm = np.linalg.norm(eps.reshape(len(x), -1), axis=1)
        ratios[draw] = np.linalg.norm(moved - clean, axis=1) / eps_norm
    per_input = ratios.mean(axis=0)
    return per_input if per_sample else float(per_input.mean())


def linear_probe_accuracy(
    train_features,
    y_train,
    test_features,
    y_test,
    *,
    C=1.0,
    max_iter=2000,
    standardize=True,
    labels_per_class=None,
    num_draws=1,
    seed=0,
):
    """Test accuracy of a logistic regression trained on frozen features.

    A "linear probe": the features (codes of a frozen encoder, or raw pixels for
    the baseline) are flattened, optionally standardized with the training
    set's mean and standard deviation, and a multinomial
    `sklearn.linear_model.LogisticRegression(C=C, max_iter=max_iter)` is fit on
    them. Higher accuracy means the labels are easier to read off linearly; it
    says nothing about what a deeper classifier could get. Score on validation
    features to choose between codes (or their settings), and on test features
    only for the numbers you report.

    Args:
        train_features: Array `(N, ...)` of training features.
        y_train: Integer labels `(N,)`.
        test_features: Array `(M, ...)`, same feature shape.
        y_test: Integer labels `(M,)`.
        C: Inverse L2 regularization strength of the logistic regression.
        max_iter: Iterations of the solver (lbfgs).
        standardize: If True, scale each feature to zero mean and unit variance
            on the training set first (constant features stay 0).
        labels_per_class: If an integer, train each probe on only that many
            training samples of every class, drawn at random without
            replacement: how well the features serve when labels are scarce.
            `None` trains on all of them.
        num_draws: With `labels_per_class`, the number of random draws of the
            labelled subset; the accuracies are averaged.
        seed: Seed of `numpy.random.default_rng` for those draws.

    Returns:
        The fraction of `y_test` predicted correctly, a float in [0, 1]
        (averaged over the draws with `labels_per_class`).

    Example:
        >>> from keras_ae.data import load_dataset
        >>> (x_train, y_train), (x_val, y_val), _, _ = load_dataset("digits")
        >>> linear_probe_accuracy(x_train, y_train, x_val, y_val)  # on the pixels
        0.9...
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    train = np.asarray(train_features, dtype="float64")
    test = np.asarray(test_features, dtype="float64")
    train = train.reshape(len(train), -1)
    test = test.reshape(len(test), -1)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(train) != len(y_train) or len(test) != len(y_test):
        raise ValueError(
            "Expected as many labels as feature rows. Received: "
            f"{len(train)} training rows and {len(y_train)} labels, "
            f"{len(test)} test rows and {len(y_test)} labels"
        )
    if train.shape[1] != test.shape[1]:
        raise ValueError(
            "Expected training and test features of the same size. Received: "
            f"{train.shape[1]} and {test.shape[1]} values per sample"
        )
    if labels_per_class is None:
        subsets = [np.arange(len(train))]
    else:
        labels_per_class = check_int("labels_per_class", labels_per_class, 1)
        num_draws = check_int("num_draws", num_draws, 1)
        classes, counts = np.unique(y_train, return_counts=True)
        if counts.min() < labels_per_class:
            raise ValueError(
                f"Expected labels_per_class <= {counts.min()} (the rarest class "
                f"has {counts.min()} training samples). "
                f"Received: labels_per_class={labels_per_class}"
            )
        rng = np.random.default_rng(seed)
        subsets = [
            np.concatenate(
                [
                    rng.choice(np.flatnonzero(y_train == c), labels_per_class, False)
                    for c in classes
                ]
            )
            for _ in range(num_draws)
        ]
    accuracies = []
    # One BLAS thread: in a process that has run TensorFlow, multithreaded BLAS
    # competes with TensorFlow's thread pools, and a probe of this size was
    # measured 50x slower with 2 threads than with 1 on a 2-core machine.
    with threadpool_limits(limits=1):
        for subset in subsets:
            steps = [StandardScaler()] if standardize else []
            probe = make_pipeline(*steps, LogisticRegression(C=C, max_iter=max_iter))
            probe.fit(train[subset], y_train[subset])
            accuracies.append(probe.score(test, y_test))
    return float(np.mean(accuracies))


def _wait_for(result):
    """Waits until `result` is computed (a GPU runs asynchronously)."""
    leaves = result if isinstance(result, (list, tuple)) else [result]
    for leaf in leaves:
        if hasattr(leaf, "numpy"):
            leaf.numpy()


def time_callable(function, *, repeats=5, number=1, warmup=1):
    """Times a zero-argument callable: seconds per call, best of `repeats`.

    The callable is first called `warmup` times untimed (to trace a
    `tf.function` or fill caches); then `repeats` times over, it is called
    `number` times in a row and the elapsed time divided by `number`. A tensor
    it returns (or a list or tuple of them) is fetched before the clock stops,
    so asynchronous GPU work is counted. On a machine shared with other work,
    the best (smallest) time is the one least disturbed; the median shows how
    steady the measurement was.

    Args:
        function: A callable taking no arguments, e.g. `lambda: step(x)`.
        repeats: Number of timed rounds (>= 1).
        number: Calls per round (>= 1).
        warmup: Untimed calls before the first round (>= 0).

    Returns:
        A dict with `best` and `median` (seconds per call) and `times` (the
        list of per-call seconds of each round).

    Example:
        >>> timing = time_callable(lambda: sorted(range(1000)), repeats=3)
        >>> sorted(timing), len(timing["times"])
        (['best', 'median', 'times'], 3)
        >>> 0 < timing["best"] <= timing["median"]
        True
    """
    return time_callables(
        {"function": function}, repeats=repeats, number=number, warmup=warmup
    )["function"]


def time_callables(functions, *, repeats=5, number=1, warmup=1):
    """Times several zero-argument callables fairly, taking turns.

    Like `time_callable` for each of them, but the rounds are interleaved:
    round 1 times every callable once, then round 2, and so on. A moment when
    the machine is busy then slows one round of every callable rather than all
    the rounds of one, so their best times stay comparable.

    Args:
        functions: A dict of name -> callable taking no arguments.
        repeats: Number of timed rounds (>= 1).
        number: Calls of each callable per round (>= 1).
        warmup: Untimed calls of each callable before the first round (>= 0).

    Returns:
        A dict of name -> the dict `time_callable` returns (`best`, `median`,
        `times`, in seconds per call).

    Example:
        >>> x = np.random.default_rng(0).random((200, 200))
        >>> timings = time_callables({"matmul": lambda: x @ x, "sum": x.sum})
        >>> timings["sum"]["best"] < timings["matmul"]["best"]
        True
    """
    if not isinstance(functions, dict) or not functions:
        raise ValueError(
            "Expected a non-empty dict of name -> callable. "
            f"Received: functions={functions!r}"
        )
    for name, function in functions.items():
        if not callable(function):
            raise ValueError(
                f"Expected a callable. Received: {function!r} for {name!r}"
            )
    repeats = check_int("repeats", repeats, 1)
    number = check_int("number", number, 1)
    warmup = check_int("warmup", warmup, 0)
    for function in functions.values():
        for _ in range(warmup):
            _wait_for(function())
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(number):
                result = function()
            _wait_for(result)
            times[name].append((time.perf_counter() - start) / number)
    return {
        name: {
            "best": min(values),
            "median": statistics.median(values),
            "times": values,
        }
        for name, values in times.items()
    }


def spread(values):
    """How far apart the rows of `values` lie: sqrt of the summed variances.

    `sqrt(sum_j Var(v_j))` over the columns of `values` flattened to
    `(N, -1)`: the root-mean-square distance of a row from the mean row.
    """
    values = np.asarray(values, dtype="float64")
    return float(np.sqrt(values.reshape(len(values), -1).var(axis=0).sum()))


def relative_sensitivity(encoder, x, noise_stddev=0.05, *, seed=0, batch_size=256):
    """`code_sensitivity` measured in units of the code's and the input's spread.

    An encoder can lower `code_sensitivity` for free by shrinking its whole
    code (an untied decoder scales it back up). Dividing the code's movement
    by the code's `spread` over `x`, and the input's movement by the input's
    spread, gives a ratio that no rescaling of the code changes.

    Returns:
        `(relative, code_spread)`: `code_sensitivity(encoder, x, noise_stddev,
        seed=seed) * spread(x) / spread(codes)`, and `spread(codes)`.
    """
    codes = np.asarray(encoder.predict(x, batch_size=batch_size, verbose=0))
    raw = code_sensitivity(encoder, x, noise_stddev, seed=seed, batch_size=batch_size)
    code_spread = spread(codes)
    return raw * spread(x) / code_spread, code_spread
