"""Tests of keras_ae.series_data against pandas and sktime's own loaders."""

import importlib.util

import numpy as np
import pandas as pd
import pytest

from keras_ae import series_data


@pytest.mark.parametrize(
    "name, length, marked, splits",
    [("ecg", 7500, 352, (4500, 6000)), ("yahoo", 1000, 7, (300, 430))],
)
def test_anomaly_series_are_the_csv_files(name, length, marked, splits):
    values, labels, info = series_data.load_anomaly_series(name)
    path = series_data.sktime_data_path(series_data.ANOMALY_SERIES[name][0])
    frame = pd.read_csv(path)
    np.testing.assert_allclose(values, frame["data"].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(labels, frame["label"].to_numpy())
    assert values.shape == (length,) and values.dtype == np.float32
    assert int(labels.sum()) == marked and info.splits == splits
    # Training and validation parts are normal; every anomaly is in the test part.
    assert labels[: splits[1]].sum() == 0


def test_classification_set_is_sktimes_series_pooled_and_split():
    from sktime.datasets import load_italy_power_demand

    (x_train, y_train), (x_val, y_val), (x_test, y_test), info = (
        series_data.load_series_classification("italy_power_demand")
    )
    parts = [
        load_italy_power_demand(split=s, return_X_y=True, return_type="numpy3D")
        for s in ("train", "test")
    ]
    x_all = np.concatenate([p[0] for p in parts])[:, 0, :]
    y_all = np.concatenate([p[1] for p in parts]).astype(str)
    assert info.splits == (len(x_train), len(x_val), len(x_test))
    assert sum(info.splits) == len(x_all) == 1096
    assert x_train.shape[1:] == (24, 1) and x_train.dtype == np.float32
    lookup = {row.astype("float32").tobytes(): label for row, label in zip(
        x_all, y_all, strict=True)}  # fmt: skip
    seen = set()
    for x, y in ((x_train, y_train), (x_val, y_val), (x_test, y_test)):
        for series, label in zip(x[:, :, 0], y, strict=True):
            assert info.class_names[label] == lookup[series.tobytes()]
            seen.add(series.tobytes())
        # Stratified: each split holds the classes in the data's proportions.
        shares = np.bincount(y) / len(y)
        np.testing.assert_allclose(shares, [0.5, 0.5], atol=0.02)
    assert len(seen) == len(x_all)  # disjoint, and nothing left out


def test_classification_split_arguments_are_checked():
    with pytest.raises(ValueError, match="their sum < 1"):
        series_data.load_series_classification(
            "gunpoint", validation_fraction=0.5, test_fraction=0.5
        )
    with pytest.raises(ValueError, match=r"one of \('italy_power_demand'"):
        series_data.load_series_classification("cifar")


def test_uschange_columns_and_quarters():
    from sktime.datasets import load_uschange

    values, periods, columns = series_data.load_economic_series("uschange")
    target, others = load_uschange()
    assert columns[0] == target.name and columns[1:] == tuple(others.columns)
    np.testing.assert_allclose(values[:, 0], target.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(values[:, 1:], others.to_numpy(), rtol=1e-6)
    assert (periods[0], periods[-1], len(periods)) == ("1970Q1", "2016Q3", 187)


def test_missing_sktime_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sktime" else real_find_spec(name, *a),
    )
    with pytest.raises(series_data.SeriesUnavailableError, match="pip install sktime"):
        series_data.load_anomaly_series("ecg")
    with pytest.raises(ValueError, match=r"one of \('ecg', 'yahoo'\)"):
        series_data.load_anomaly_series("ekg")
