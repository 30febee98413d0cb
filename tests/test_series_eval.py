"""Tests of keras_ae.evaluate.series_eval against scikit-learn, SciPy, hand counts."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from sklearn.ensemble import IsolationForest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from keras_ae.evaluate import series_eval


def test_segments_and_point_adjustment():
    labels = np.array([0, 1, 1, 0, 0, 1, 1, 1, 0, 1])
    assert series_eval.segments(labels) == [(1, 3), (5, 8), (9, 10)]
    predictions = np.array([0, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    adjusted = series_eval.point_adjust(predictions, labels)
    # The first segment has a hit: all of it counts; the others have none.
    np.testing.assert_array_equal(adjusted, [0, 1, 1, 0, 1, 0, 0, 0, 0, 0])


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=300) < 0.2).astype(int)
    scores = np.round(rng.normal(size=300) + labels, 1)  # many ties
    assert series_eval.auroc(scores, labels) == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )
    with pytest.raises(ValueError, match="both normal and anomalous"):
        series_eval.auroc(scores, np.zeros(300, int))


def test_detection_report_matches_scikit_learn():
    rng = np.random.default_rng(1)
    labels = np.zeros(500, int)
    labels[100:130] = labels[300:305] = labels[450:460] = 1
    scores = rng.normal(size=500) + 2.0 * labels
    scores[:5] = np.nan  # steps no window covered
    report = series_eval.detection_report(scores, labels, threshold=1.5)
    flags = np.nan_to_num(scores, nan=-np.inf) > 1.5
    assert report["precision"] == pytest.approx(precision_score(labels, flags))
    assert report["recall"] == pytest.approx(recall_score(labels, flags))
    assert report["f1"] == pytest.approx(f1_score(labels, flags))
    adjusted = series_eval.point_adjust(flags, labels)
    assert report["f1_pa"] == pytest.approx(f1_score(labels, adjusted))
    assert report["f1_pa"] >= report["f1"]
    assert report["flagged"] == flags.sum() and report["num_segments"] == 3
    filled = np.nan_to_num(scores, nan=np.nanmin(scores))
    assert report["auroc"] == pytest.approx(roc_auc_score(labels, filled))


def test_normal_threshold_is_a_quantile():
    scores = np.r_[np.arange(1000.0), np.nan]
    assert series_eval.normal_threshold(scores, 0.5) == np.median(np.arange(1000.0))
    assert series_eval.normal_threshold(scores, 1.0) == 999.0
    with pytest.raises(ValueError, match="0 < quantile <= 1"):
        series_eval.normal_threshold(scores, 0)


def test_moving_zscore_matches_a_loop():
    rng = np.random.default_rng(2)
    series = rng.normal(size=(80, 2))
    scores = series_eval.moving_zscore_scores(series, window=10)
    assert np.isnan(scores[:10]).all()
    for t in (10, 33, 79):
        history = series[t - 10 : t]
        z = np.abs(series[t] - history.mean(axis=0)) / history.std(axis=0)
        assert scores[t] == pytest.approx(z.max())


def test_isolation_forest_scores_match_scikit_learn():
    rng = np.random.default_rng(3)
    train = rng.normal(size=200)
    series = rng.normal(size=60)
    series[30] = 8.0
    scores = series_eval.isolation_forest_scores(train, series, 5, seed=0)
    windows = np.lib.stride_tricks.sliding_window_view(series, 5)
    forest = IsolationForest(n_estimators=200, random_state=0)
    forest.fit(np.lib.stride_tricks.sliding_window_view(train, 5))
    window_scores = -forest.score_samples(windows)
    # Step 0 is covered by window 0 only; step 30 by windows 26-30.
    assert scores[0] == pytest.approx(window_scores[0])
    assert scores[30] == pytest.approx(window_scores[26:31].mean())
    assert np.nanargmax(scores) in range(26, 35)


def test_moving_average_matches_scipy_inside_and_shrinks_at_the_edges():
    rng = np.random.default_rng(4)
    series = rng.normal(size=50)
    smoothed = series_eval.moving_average(series, 5)[:, 0]
    reference = uniform_filter1d(series, 5, mode="constant")
    np.testing.assert_allclose(smoothed[2:-2], reference[2:-2])
    assert smoothed[0] == pytest.approx(series[:3].mean())
    with pytest.raises(ValueError, match="odd width"):
        series_eval.moving_average(series, 4)


def test_tune_filter_picks_the_lowest_validation_error():
    t = np.linspace(0, 10, 400)
    clean = np.sin(t)
    noisy = clean + np.random.default_rng(5).normal(scale=0.3, size=400)
    best, errors = series_eval.tune_filter(
        series_eval.savgol, noisy, clean, (5, 11, 21, 41)
    )
    assert best == min(errors, key=errors.get)
    assert errors[best] < np.mean((noisy - clean) ** 2) / 3


def test_compare_detectors_thresholds_on_validation_and_reports_on_test():
    rng = np.random.default_rng(6)
    labels = np.zeros(300, int)
    labels[250:255] = 1
    scores = rng.uniform(size=300)
    scores[250:255] += 5
    reports = series_eval.compare_detectors(
        {"a": scores, "b": -scores}, labels, (100, 200), quantile=1.0
    )
    assert reports["a"]["threshold"] == scores[100:200].max()
    expected = series_eval.detection_report(
        scores[200:], labels[200:], scores[100:200].max()
    )
    assert {k: reports["a"][k] for k in expected} == expected
    assert reports["a"]["segments_found"] == 1 and reports["b"]["f1"] == 0.0
    guarded = series_eval.compare_detectors({"a": scores}, labels, (100, 200), margin=9)
    assert guarded["a"]["threshold"] == scores[100:191].max()
    with pytest.raises(ValueError, match="0 <= margin < 100"):
        series_eval.compare_detectors({"a": scores}, labels, (100, 200), margin=100)
    table = series_eval.format_reports(reports).splitlines()
    assert table[0].split() == [
        "detector",
        "AUROC",
        "F1",
        "F1",
        "PA",
        "flagged",
        "found",
    ]
    assert table[1].split()[0] == "a" and table[1].split()[-1] == "1/1"


def test_discriminative_accuracy_extremes():
    rng = np.random.default_rng(7)
    real = rng.normal(size=(200, 10))
    same = rng.normal(size=(200, 10))
    shifted = rng.normal(loc=3.0, size=(200, 10))
    assert series_eval.discriminative_accuracy(real, shifted) == 1.0
    assert abs(series_eval.discriminative_accuracy(real, same) - 0.5) < 0.1


def test_tstr_accuracy_is_logistic_regression_accuracy():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    x = rng.normal(size=(120, 6, 1))
    y = (x[:, 0, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    reference = LogisticRegression(max_iter=2000).fit(x[:80, :, 0], y[:80])
    assert series_eval.tstr_accuracy(x[:80], y[:80], x[80:], y[80:]) == (
        reference.score(x[80:, :, 0], y[80:])
    )
