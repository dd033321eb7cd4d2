"""The UMAP map: settings are validated, clicks map back to points, and on clearly
separated classes the map keeps classmates together (never asserting coordinates)."""

from __future__ import annotations

import numpy as np
import pytest

from browserml.imagesearch.embedding import UmapParams, nearest_point, neighbourhood_agreement, umap_embedding


@pytest.mark.parametrize("bad", [dict(n_neighbors=1), dict(n_neighbors=True), dict(min_dist=1.5),
                                 dict(metric="hamming")])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError, match="UMAP"):
        UmapParams(**bad)


def test_neighbours_are_capped_below_the_number_of_points():
    assert UmapParams(n_neighbors=50).for_points(20).n_neighbors == 19
    with pytest.raises(ValueError, match="at least 3"):
        UmapParams().for_points(2)


def test_a_click_finds_the_nearest_point():
    points = np.array([[0.0, 0.0], [5.0, 5.0], [-3.0, 1.0]])
    assert [nearest_point(points, *xy) for xy in [(0.2, -0.1), (4, 6), (-2.5, 0.5)]] == [0, 1, 2]


def test_neighbourhood_agreement_by_hand():
    points = np.array([[0, 0], [0, 1], [10, 0], [10, 1]], dtype=float)
    assert neighbourhood_agreement(points, np.array([0, 0, 1, 1]), k=1) == 1.0
    assert neighbourhood_agreement(points, np.array([0, 1, 0, 1]), k=1) == 0.0
    assert neighbourhood_agreement(points, np.array([0, 0, 1, 1]), k=3) == pytest.approx(1 / 3)


def test_non_finite_features_are_refused():
    with pytest.raises(ValueError, match="finite"):
        umap_embedding(np.full((10, 3), np.nan))


@pytest.mark.slow
def test_separated_classes_stay_together_on_the_map():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(4, 32))
    labels = np.repeat(np.arange(4), 25)
    features = centres[labels] + rng.normal(size=(100, 32))
    points = umap_embedding(features, UmapParams(n_neighbors=10, metric="euclidean"))
    assert points.shape == (100, 2) and np.all(np.isfinite(points))
    assert neighbourhood_agreement(points, labels, k=5) > 0.95
    np.testing.assert_array_equal(points, umap_embedding(features, UmapParams(n_neighbors=10, metric="euclidean")))
