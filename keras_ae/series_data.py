"""Real time series that ship offline with the sktime package.

Three kinds, each split for the course's rule (choose on validation, report on
test):

- `load_anomaly_series("ecg" | "yahoo")`: one long series with a label per time
  step (1 = anomalous): 7,500 samples of an MIT-BIH arrhythmia ECG recording
  (352 marked) and 1,000 points of a Yahoo anomaly-benchmark series (7 marked).
  The returned split points cut it into a normal training part, a normal
  validation part and a test part that holds the marked anomalies.
- `load_series_classification("italy_power_demand" | "gunpoint" | ...)`:
  labelled sets of short series, `(N, length, channels)` float32.
- `load_economic_series("uschange" | "airline" | ...)`: short economic series
  with their dates.

The files are read from the installed sktime package; sktime itself (and
pandas) is imported only by the loaders that need its readers.
"""

import dataclasses
import importlib.util
import pathlib

import numpy as np

__all__ = [
    "ANOMALY_SERIES",
    "CLASSIFICATION_SETS",
    "ECONOMIC_SERIES",
    "SeriesInfo",
    "SeriesUnavailableError",
    "load_anomaly_series",
    "load_economic_series",
    "load_series_classification",
    "sktime_data_path",
]

SPLIT_SEED = 0
# Name -> (file in sktime/datasets/data, description, end of the training part,
# end of the validation part, as fractions of the series). Both anomaly files
# hold their marked points after the validation part, so that training and
# validation see normal behaviour only.
ANOMALY_SERIES = {
    "ecg": (
        "mitdb/mitdb.csv",
        "MIT-BIH arrhythmia database, one ECG lead, 7,500 samples at 360 Hz; "
        "352 samples marked anomalous",
        0.6,
        0.8,
    ),
    "yahoo": (
        "yahoo/yahoo.csv",
        "Yahoo S5 anomaly benchmark, one series of 1,000 points; 7 marked",
        0.3,
        0.43,
    ),
}
# Name -> sktime.datasets loader function. The train and test files are pooled
# and split again, stratified: (validation, test) fractions of the whole.
CLASSIFICATION_SETS = {
    "italy_power_demand": "load_italy_power_demand",
    "gunpoint": "load_gunpoint",
    "arrow_head": "load_arrow_head",
    "basic_motions": "load_basic_motions",
}
CLASSIFICATION_SPLIT = (0.15, 0.25)
# Name -> sktime.datasets loader function.
ECONOMIC_SERIES = {
    "uschange": "load_uschange",
    "airline": "load_airline",
    "lynx": "load_lynx",
    "shampoo_sales": "load_shampoo_sales",
}


class SeriesUnavailableError(RuntimeError):
    """sktime, which ships the series, is missing or lacks the file."""


_HINT = (
    "The course's time series ship with the sktime package: `pip install sktime` "
    "(or `python3 tasks.py course`, which installs it)."
)


@dataclasses.dataclass(frozen=True)
class SeriesInfo:
    """What a loader loaded.

    Attributes:
        name: The name asked for.
        source: Where the series came from.
        splits: For an anomaly series, `(train_end, val_end)`: time steps
            `[0, train_end)` are for training, `[train_end, val_end)` for
            validation, `[val_end, T)` for testing. For a classification set,
            `(train, validation, test)` sizes.
        class_names: Labels of a classification set (their order gives the
            integer labels); empty otherwise.
    """

    name: str
    source: str
    splits: tuple
    class_names: tuple = ()


def sktime_data_path(relative):
    """Path of a file in the installed sktime's `datasets/data` folder.

    Found without importing sktime (which takes seconds).

    Raises:
        SeriesUnavailableError: sktime is not installed, or lacks the file.
    """
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise SeriesUnavailableError(f"sktime is not installed. {_HINT}")
    for folder in spec.submodule_search_locations:
        path = pathlib.Path(folder) / "datasets" / "data" / relative
        if path.is_file():
            return path
    raise SeriesUnavailableError(
        f"The installed sktime has no datasets/data/{relative}. {_HINT}"
    )


def _check_name(name, known, what):
    if name not in known:
        raise ValueError(
            f"Expected {what} to be one of {tuple(known)}. Received: {what}={name!r}"
        )


def load_anomaly_series(name):
    """Loads a long series with one anomaly label per time step.

    Args:
        name: `"ecg"` or `"yahoo"` (see `ANOMALY_SERIES`).

    Returns:
        `(values, labels, info)`: float32 values `(T,)`, int64 labels `(T,)`
        (1 = anomalous) and a `SeriesInfo` whose `splits` are `(train_end,
        val_end)`; the first two parts hold no anomaly.

    Example:
        >>> values, labels, info = load_anomaly_series("ecg")
        >>> values.shape, int(labels.sum()), info.splits
        ((7500,), 352, (4500, 6000))
    """
    _check_name(name, ANOMALY_SERIES, "name")
    relative, source, train_fraction, val_fraction = ANOMALY_SERIES[name]
    table = np.loadtxt(sktime_data_path(relative), delimiter=",", skiprows=1)
    values, labels = table[:, 0].astype("float32"), table[:, 1].astype("int64")
    train_end = int(round(train_fraction * len(values)))
    val_end = int(round(val_fraction * len(values)))
    if labels[:val_end].any():  # a guard on the files' contents
        raise SeriesUnavailableError(
            f"{relative} has anomalies before time step {val_end}"
        )
    return values, labels, SeriesInfo(name, source, (train_end, val_end))


def _sktime_loader(name):
    try:
        import sktime.datasets as datasets
    except ImportError as error:
        raise SeriesUnavailableError(
            f"sktime cannot be imported ({error}). {_HINT}"
        ) from None
    return getattr(datasets, name)


def load_series_classification(name, validation_fraction=None, test_fraction=None):
    """Loads a labelled set of series, split into training, validation and test.

    sktime ships each set as a train and a test file; they are pooled and split
    again, stratified by class with a fixed seed, so that the validation split
    can be drawn from the same distribution.

    Args:
        name: One of `CLASSIFICATION_SETS`, e.g. `"italy_power_demand"` (1,096
            daily electricity-demand curves of 24 hours from Italy, winter or
            summer) or `"gunpoint"` (200 hand trajectories, length 150).
        validation_fraction: Fraction of all series for validation; default
            `CLASSIFICATION_SPLIT[0]`.
        test_fraction: Fraction of all series for the test split; default
            `CLASSIFICATION_SPLIT[1]`.

    Returns:
        `(x_train, y_train), (x_val, y_val), (x_test, y_test), info`: series
        `(N, length, channels)` float32 and int64 labels.
    """
    from sklearn.model_selection import train_test_split

    _check_name(name, CLASSIFICATION_SETS, "name")
    val_fraction, test_fraction = (
        CLASSIFICATION_SPLIT[0] if validation_fraction is None else validation_fraction,
        CLASSIFICATION_SPLIT[1] if test_fraction is None else test_fraction,
    )
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1) or (
        val_fraction + test_fraction >= 1
    ):
        raise ValueError(
            "Expected 0 < validation_fraction, 0 < test_fraction and their sum < 1. "
            f"Received: validation_fraction={val_fraction!r}, "
            f"test_fraction={test_fraction!r}"
        )
    loader = _sktime_loader(CLASSIFICATION_SETS[name])
    parts = [
        loader(split=split, return_X_y=True, return_type="numpy3D")
        for split in ("train", "test")
    ]
    x = np.concatenate([p[0] for p in parts]).transpose(0, 2, 1).astype("float32")
    names = np.concatenate([p[1] for p in parts]).astype(str)
    class_names = tuple(str(name) for name in sorted(set(names)))
    y = np.searchsorted(class_names, names).astype("int64")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=SPLIT_SEED
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest,
        y_rest,
        test_size=val_fraction / (1 - test_fraction),
        stratify=y_rest,
        random_state=SPLIT_SEED,
    )
    info = SeriesInfo(
        name,
        f"sktime {CLASSIFICATION_SETS[name]}() (UCR/UEA archive), train and test "
        "files pooled",
        (len(x_train), len(x_val), len(x_test)),
        class_names,
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test), info


def load_economic_series(name):
    """Loads an economic series with its time index.

    Args:
        name: One of `ECONOMIC_SERIES`: `"uschange"` (quarterly percentage
            changes of US consumption, income, production, savings and
            unemployment, 1970-2016), `"airline"` (monthly airline passengers,
            1949-1960), `"lynx"`, `"shampoo_sales"`.

    Returns:
        `(values, periods, columns)`: float32 values `(T, channels)`, a list of
        `T` period strings (e.g. `"1970Q1"`) and the column names.
    """
    _check_name(name, ECONOMIC_SERIES, "name")
    loaded = _sktime_loader(ECONOMIC_SERIES[name])()
    if isinstance(loaded, tuple):  # uschange: (target series, other columns)
        target, others = loaded
        frame = others.copy()
        frame.insert(0, target.name, target)
    else:
        frame = loaded.to_frame()
    values = frame.to_numpy(dtype="float32")
    periods = [str(p) for p in frame.index]
    if name == "uschange":  # sktime indexes it 0..186: quarters 1970Q1-2016Q3
        periods = [f"{1970 + i // 4}Q{i % 4 + 1}" for i in range(len(frame))]
    return values, periods, tuple(str(c) for c in frame.columns)
