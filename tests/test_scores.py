import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import auc, roc_auc_score, roc_curve

from keras_ae.evaluate.scores import flat, pca_score, roc_points


def test_roc_points_match_sklearn_roc_curve_with_ties():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=300), 1)  # many ties
    labels = rng.integers(0, 4, 300)
    roc = roc_points(scores, labels, normal_class=2)
    fpr, tpr, thresholds = roc_curve(labels != 2, scores, drop_intermediate=False)
    np.testing.assert_allclose(roc["false_alarm_rate"], fpr)
    np.testing.assert_allclose(roc["detection_rate"], tpr)
    np.testing.assert_allclose(roc["thresholds"][1:], thresholds[1:])
    area = auc(roc["false_alarm_rate"], roc["detection_rate"])
    assert area == pytest.approx(roc_auc_score(labels != 2, scores))


def test_roc_points_reject_one_class_only():
    with pytest.raises(ValueError, match="both the normal class"):
        roc_points([0.1, 0.2], [1, 1], normal_class=1)


def test_flat_matches_numpy_reshape():
    x = np.arange(24.0).reshape(2, 3, 4, 1)
    np.testing.assert_array_equal(flat(x), x.reshape(2, 12))


def test_pca_score_is_sklearn_pca_residual():
    rng = np.random.default_rng(1)
    x_normal = rng.normal(size=(50, 3, 3, 1))
    x = rng.normal(size=(7, 3, 3, 1))
    pca = PCA(4).fit(x_normal.reshape(50, -1))
    rows = x.reshape(7, -1)
    reference = np.mean((rows - pca.inverse_transform(pca.transform(rows))) ** 2, 1)
    np.testing.assert_allclose(pca_score(4)(x_normal, x), reference, rtol=1e-5)
