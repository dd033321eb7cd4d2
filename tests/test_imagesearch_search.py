"""Lesson 3's search maths against references: SciPy distances, scikit-learn AP and
neighbours, closed forms, Monte Carlo, and exact brute force for the FAISS indexes."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from browserml.imagesearch import scale
from browserml.imagesearch import search as s

SCIPY_NAMES = {
    "cosine": "cosine", "euclidean": "euclidean", "squared": "sqeuclidean", "minkowski": "minkowski",
}


@pytest.fixture(scope="module")
def relu_like() -> np.ndarray:
    """Non-negative float32 features far from the origin, like pooled ReLU activations."""
    rng = np.random.default_rng(0)
    return (np.abs(rng.normal(size=(60, 40))) + 2.0).astype(np.float32)


def reference_order(dist: np.ndarray) -> np.ndarray:
    """Indices sorted by (distance, index): the tie rule search promises."""
    return np.lexsort((np.arange(dist.size), dist))


def clustered(n_per: int = 20, classes: int = 10, dim: int = 16, spread: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 5
    labels = np.repeat(np.arange(classes), n_per)
    return (centres[labels] + spread * rng.normal(size=(labels.size, dim))).astype(np.float32), labels


# --------------------------------------------------------------------------- distances


@pytest.mark.parametrize("metric", s.METRICS)
def test_pairwise_distances_match_scipy(relu_like, metric):
    queries = relu_like[:7]
    got = s.pairwise_distances(queries, relu_like, metric, p=3.0)
    kw = {"p": 3.0} if metric == "minkowski" else {}
    want = cdist(queries.astype(np.float64), relu_like.astype(np.float64), SCIPY_NAMES[metric], **kw)
    assert got.shape == (7, 60) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("p", [1.0, 2.0, 2.5, 4.0, np.inf])
def test_minkowski_p_values_match_scipy(relu_like, p):
    want = cdist(relu_like[:5], relu_like, "chebyshev") if np.isinf(p) else cdist(
        relu_like[:5], relu_like, "minkowski", p=p)
    got = s.pairwise_distances(relu_like[:5], relu_like, "minkowski", p=p)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("metric", s.METRICS)
def test_tiny_chunks_give_the_same_distances(relu_like, metric):
    whole = s.pairwise_distances(relu_like, relu_like, metric)
    chunked = s.pairwise_distances(relu_like, relu_like, metric, chunk_bytes=8 * 40 * 3)  # 3 rows a block
    # Both work in float64, but BLAS/einsum sum a 3-row block and the 60-row matrix in other
    # orders (SIMD width, FMA), so the two may differ by float64 round-off, never by a misplaced
    # block (an O(1) change). Bounds, D = 40 terms per dot product, eps = float64's:
    # - minkowski: sums of D non-negative |q-f|^3 are off by <= (D+1)·eps relative (the root
    #   only shrinks that); the diagonal is exactly 0 in both;
    # - squared: |q|²+|f|²-2q·f of centred rows is off by <= (D+2)·eps·(|q|+|f|)² <= 4(D+2)·eps·R²
    #   per path (R² = largest centred |row|², ~26; cosine's rows are unit, R² = 1), twice;
    # - euclidean: |√a-√b| <= √|a-b|, so √ of that (~1.4e-6): the diagonal's √(round-off of
    #   a 0) is 6e-8 and more, not 1e-12.
    d, eps = relu_like.shape[1], np.finfo(np.float64).eps
    if metric == "minkowski":
        np.testing.assert_allclose(chunked, whole, rtol=2 * (d + 1) * eps, atol=0)
        return
    centred = relu_like.astype(np.float64) - relu_like.mean(axis=0, dtype=np.float64)
    r2 = 1.0 if metric == "cosine" else float(np.max(np.sum(centred ** 2, axis=1)))
    squared_tol = 2 * 4 * (d + 2) * eps * r2
    np.testing.assert_allclose(chunked, whole, rtol=0,
                               atol=np.sqrt(squared_tol) if metric == "euclidean" else squared_tol)


def test_wide_minkowski_does_not_allocate_q_by_n_by_d():
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(40, 20_000)).astype(np.float32)  # Q x N x D in float64 would be 256 MB
    tracemalloc.start()
    try:
        got = s.pairwise_distances(wide, wide, "minkowski", p=3.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
    np.testing.assert_allclose(got[:3], cdist(wide[:3], wide, "minkowski", p=3.0), rtol=1e-9)


def test_distance_errors_name_the_problem(relu_like):
    with pytest.raises(s.SearchInputError, match="cosine, euclidean, squared, minkowski"):
        s.pairwise_distances(relu_like, relu_like, "manhattan")
    with pytest.raises(s.SearchInputError, match="p >= 1"):
        s.pairwise_distances(relu_like, relu_like, "minkowski", p=0.5)
    with pytest.raises(s.SearchInputError, match="39 features per row but features have 40"):
        s.pairwise_distances(relu_like[:, :39], relu_like, "cosine")
    bad = relu_like.copy()
    bad[[3, 7], 0] = np.nan
    bad[9, 5] = np.inf
    with pytest.raises(s.SearchInputError, match=r"infinite values in 3 of 60 rows \(first: \[3, 7, 9\]"):
        s.pairwise_distances(relu_like[:2], bad, "euclidean")
    with pytest.raises(s.SearchInputError, match="empty"):
        s.pairwise_distances(relu_like[:0], relu_like)


def test_zero_vectors_are_at_cosine_distance_one(relu_like):
    features = relu_like[:10].copy()
    features[[2, 5]] = 0.0
    with pytest.warns(s.ZeroNormWarning, match="2 query row"):
        got = s.pairwise_distances(features, features, "cosine")
    assert np.all(got[[2, 5]] == 1.0) and np.all(got[:, [2, 5]] == 1.0)  # even zero to zero
    keep = [0, 1, 3, 4, 6, 7, 8, 9]
    want = cdist(features[keep], features[keep], "cosine")
    np.testing.assert_allclose(got[np.ix_(keep, keep)], want, atol=1e-12)


# --------------------------------------------------------------------------- top k


@pytest.mark.parametrize("metric", s.METRICS)
def test_top_k_of_a_row_leaves_it_out_and_matches_reference(relu_like, metric):
    result = s.top_k(relu_like, 4, k=15, metric=metric)
    kw = {"p": 3.0} if metric == "minkowski" else {}
    dist = cdist(relu_like[4:5], relu_like, SCIPY_NAMES[metric], **kw)[0]
    order = [i for i in reference_order(dist) if i != 4][:15]
    assert result.indices.tolist() == order and result.query == 4 and len(result) == 15
    np.testing.assert_allclose(result.distances, dist[order], rtol=1e-6, atol=1e-6)


def test_top_k_of_a_vector_leaves_nothing_out(relu_like):
    result = s.top_k(relu_like, relu_like[4], k=3, metric="euclidean")
    assert result.indices[0] == 4 and result.distances[0] < 1e-6 and result.query is None


def test_top_k_breaks_ties_by_index_and_honours_exclude():
    # duplicate rows (the same image twice) tie exactly, under every metric
    features = np.array([[0.5, 0.0], [1, 0.25], [3, 3], [1, 0.25], [3, 3], [1, 0.25]], dtype=np.float32)
    for metric in s.METRICS:
        assert s.top_k(features, 0, k=4, metric=metric).indices.tolist() == [1, 3, 5, 2]
    assert s.top_k(features, 0, k=4, metric="squared", exclude=[3]).indices.tolist() == [1, 5, 2, 4]


def test_top_k_ties_on_a_large_set_are_stable():
    """The partition path (N > 4096) must keep the lowest-index ties at the k-th place."""
    rng = np.random.default_rng(2)
    features = rng.integers(0, 3, size=(6000, 3)).astype(np.float32)  # only 27 distinct rows
    result = s.top_k(features, features[0], k=40, metric="squared")
    dist = cdist(features[:1], features, "sqeuclidean")[0]
    assert result.indices.tolist() == reference_order(dist)[:40].tolist()


def test_top_k_errors(relu_like):
    with pytest.raises(s.SearchInputError, match="k=60 is more than the 59 rows"):
        s.top_k(relu_like, 0, k=60)
    with pytest.raises(s.SearchInputError, match="out of range"):
        s.top_k(relu_like, 60)
    with pytest.raises(s.SearchInputError, match="1-D with 40 values"):
        s.top_k(relu_like, relu_like[:2])


# --------------------------------------------------------------------------- scores


def test_weighted_score_by_hand():
    assert s.weighted_score([1] * 15, 1) == 1.0
    assert s.weighted_score([0] * 15, 1) == 0.0
    assert s.weighted_score([1] + [0] * 14, 1) == pytest.approx(1 / 8)  # weights sum to 120/15 = 8
    assert s.weighted_score([0] * 14 + [1], 1) == pytest.approx((1 / 15) / 8)
    assert s.weighted_score(["a", "b", "a"], "a", k=3) == pytest.approx((1 + 1 / 3) / 2)
    assert s.precision_at_k([1, 0, 1, 1, 0], 1, k=4) == 0.75
    with pytest.raises(s.SearchInputError, match="k=15 is more than the 3 retrieved labels"):
        s.weighted_score([1, 1, 1], 1)


def test_random_expectation_closed_form_and_monte_carlo():
    assert s.random_score_expectation(np.repeat(np.arange(10), 20)) == pytest.approx(19 / 199, abs=1e-15)
    labels = np.repeat(np.arange(4), [3, 5, 12, 30])  # uneven classes: 50 items
    rng = np.random.default_rng(3)
    trials = 20_000
    queries = rng.integers(0, labels.size, trials)
    others = np.array([np.delete(np.arange(labels.size), q) for q in range(labels.size)])[queries]
    ranked = rng.permuted(others, axis=1)[:, :15]
    hits = labels[ranked] == labels[queries][:, None]
    w = s.score_weights(15)
    monte_carlo = float(np.mean(hits @ w / w.sum()))
    assert s.random_score_expectation(labels) == pytest.approx(monte_carlo, abs=0.01)


def test_average_precision_matches_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(4)
    ranked = rng.integers(0, 4, size=(25, 40))
    query_labels = rng.integers(0, 4, size=25)
    aps = []
    for row, q in zip(ranked, query_labels):
        want = average_precision_score(row == q, -np.arange(row.size))  # nearest first = highest score
        assert s.average_precision(row, q) == pytest.approx(want, abs=1e-12)
        aps.append(want)
    assert s.mean_average_precision(ranked, query_labels) == pytest.approx(np.mean(aps), abs=1e-12)
    assert np.isnan(s.average_precision([1, 2, 3], 0))
    # the first query has no classmate (AP undefined) and is skipped
    assert s.mean_average_precision(np.array([[1, 2], [0, 0]]), np.array([0, 0])) == 1.0


# --------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize("metric", s.METRICS)
def test_evaluate_equals_one_query_at_a_time(metric):
    rng = np.random.default_rng(5)
    features = rng.normal(size=(40, 6)).astype(np.float32)
    labels = rng.integers(0, 3, size=40)
    ev = s.evaluate(features, labels, metric, k=5)
    for q in range(40):
        result = s.top_k(features, q, k=5, metric=metric)
        assert ev.neighbours[q].tolist() == result.indices.tolist()
        assert ev.per_query_score[q] == pytest.approx(s.weighted_score(labels[result.indices], labels[q], 5))
    assert ev.mean_score == pytest.approx(ev.per_query_score.mean())
    assert ev.precision_at_k == pytest.approx(np.mean(labels[ev.neighbours] == labels[:, None]))
    np.testing.assert_allclose(ev.confusion.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(ev.confusion), ev.per_class_score)
    for c in range(3):
        assert ev.per_class_score[c] == pytest.approx(ev.per_query_score[labels == c].mean())
    assert ev.random_expectation == s.random_score_expectation(labels)


def test_evaluate_map_matches_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(6)
    features = rng.normal(size=(30, 5))
    labels = rng.integers(0, 3, size=30)
    dist = cdist(features, features)
    aps = []
    for q in range(30):
        order = [i for i in reference_order(dist[q]) if i != q]
        aps.append(average_precision_score(labels[order] == labels[q], -np.arange(29)))
    assert s.evaluate(features, labels, "euclidean").mean_average_precision == pytest.approx(np.mean(aps))


def test_evaluate_separated_classes_score_one_and_confusion_is_identity():
    features, labels = clustered()
    ev = s.evaluate(features, labels, "euclidean")
    assert ev.mean_score == 1.0 and ev.precision_at_k == 1.0 and ev.mean_average_precision == 1.0
    np.testing.assert_allclose(ev.confusion, np.eye(10))
    assert ev.random_expectation == pytest.approx(19 / 199)


def test_evaluate_is_fast_for_the_demo_size():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 2000)).astype(np.float32)
    labels = np.repeat(np.arange(10), 20)
    s.evaluate(features, labels)  # warm up BLAS
    start = time.perf_counter()
    ev = s.evaluate(features, labels)
    assert time.perf_counter() - start < 0.5  # ~15 ms here; generous for a shared CPU
    assert abs(ev.mean_score - 19 / 199) < 0.05  # random features score about chance


def test_evaluate_errors():
    with pytest.raises(s.SearchInputError, match="one label per feature row"):
        s.evaluate(np.ones((5, 2)), np.zeros(4))
    with pytest.raises(s.SearchInputError, match="k=15 is more than the 4 other images"):
        s.evaluate(np.eye(5), np.zeros(5))


# --------------------------------------------------------------------------- metric agreement


def test_identical_ranking_groups_on_raw_and_normalised_features():
    rng = np.random.default_rng(8)
    features = rng.normal(size=(80, 12)) + 0.5
    assert s.identical_ranking_groups(features) == [("cosine",), ("euclidean", "squared"), ("minkowski",)]
    agree = s.rankings_agree(features)
    assert agree[("euclidean", "squared")] == 1.0
    assert agree[("euclidean", "minkowski")] < 0.5  # p=3 generally reorders some of the top 15
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    assert s.identical_ranking_groups(unit) == [("cosine", "euclidean", "squared"), ("minkowski",)]


# --------------------------------------------------------------------------- grid and plots


def _evaluations():
    features, labels = clustered(n_per=6, classes=3, dim=4, spread=3.0)
    return {
        ("netA", "block1"): s.evaluate(features, labels, "cosine", k=5),
        ("netA", "block2"): s.evaluate(features, labels, "euclidean", k=5),
        ("netB", "block2"): s.evaluate(features, labels, "minkowski", k=5),
    }, features, labels


def test_score_grid_keeps_order_and_blanks_missing_cells():
    evaluations, _, _ = _evaluations()
    rows, cols, matrix = s.score_grid(evaluations)
    assert rows == ["netA", "netB"] and cols == ["block1", "block2"]
    assert matrix[0, 1] == evaluations[("netA", "block2")].mean_score and np.isnan(matrix[1, 0])
    _, _, maps = s.score_grid(evaluations, "mean_average_precision")
    assert maps[1, 1] == evaluations[("netB", "block2")].mean_average_precision
    with pytest.raises(s.SearchInputError, match="unknown field"):
        s.score_grid(evaluations, "accuracy")


def test_plots_return_figures():
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    from browserml.imagesearch import plots

    evaluations, features, labels = _evaluations()
    heat = plots.plot_score_heatmap(evaluations)
    assert isinstance(heat, Figure) and len(heat.axes) == 2  # heatmap + colour bar
    assert any("random" in t.get_text() for t in heat.axes[1].texts)
    confusion = plots.plot_confusion(evaluations[("netA", "block1")], ["a", "b", "c"])
    assert len(confusion.axes) == 2
    images = np.random.default_rng(9).integers(0, 255, size=(18, 8, 8), dtype=np.uint8)
    result = s.top_k(features, 0, k=5)
    row = plots.plot_results(images, 0, result, labels, ["a", "b", "c"])
    assert len(row.axes) == 6
    for ax, i in zip(row.axes[1:], result.indices):
        want = plots.SAME_CLASS if labels[i] == labels[0] else plots.OTHER_CLASS
        assert ax.spines["top"].get_edgecolor() == pytest.approx(to_rgba(want))


# --------------------------------------------------------------------------- FAISS at scale


@pytest.fixture(scope="module")
def gaussian_points():
    rng = np.random.default_rng(10)
    return rng.normal(size=(5000, 64)).astype(np.float32), rng.normal(size=(100, 64)).astype(np.float32)


@pytest.mark.parametrize("metric", scale.INDEX_METRICS)
def test_flat_index_equals_numpy_brute_force(gaussian_points, metric):
    points, queries = gaussian_points
    exact, exact_d = scale.brute_force_knn(points, queries, 15, metric)
    found, found_d = scale.search(scale.build_index(points, "flat", metric), queries, 15)
    assert np.array_equal(found, exact)
    np.testing.assert_allclose(found_d, exact_d, rtol=1e-4, atol=1e-5)
    assert scale.recall_at_k(found, exact) == 1.0


def test_hnsw_recall_is_high(gaussian_points):
    points, queries = gaussian_points
    exact, _ = scale.brute_force_knn(points, queries, 15)
    found, _ = scale.search(scale.build_index(points, "hnsw"), queries, 15)
    assert scale.recall_at_k(found, exact) >= 0.9  # 0.98 with the defaults; random 64-d is a hard case


def test_cosine_matches_sklearn_neighbours(gaussian_points):
    from sklearn.neighbors import NearestNeighbors

    points, queries = gaussian_points
    nn = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(points)
    want_d, want = nn.kneighbors(queries)
    got, got_d = scale.brute_force_knn(points, queries, 10, "cosine")
    assert np.array_equal(got, want)  # robust: the top 11's closest gap, 1.5e-5, is 80x the noise below
    # scikit-learn keeps float32: 1 - x̂·ŷ, D = 64, is off by <= D·eps32 in the dot product plus
    # (D/2+2)·eps32 in each norm, (2D+4)·eps32 ~ 1.6e-5 in all; ours is float64. (Seen: 1.9e-7
    # apart here, too close to the old 1e-6 for another CPU's SIMD/FMA.)
    np.testing.assert_allclose(got_d, want_d, rtol=0, atol=(2 * 64 + 4) * np.finfo(np.float32).eps)
    hnsw, _ = scale.search(scale.build_index(points, "hnsw", "cosine"), queries, 10)
    assert scale.recall_at_k(hnsw, want) >= 0.9


def test_indexes_are_reproducible_and_compare_reports_every_kind(gaussian_points):
    points, queries = gaussian_points
    a = scale.search(scale.build_index(points, "ivf", nlist=32, seed=7), queries, 15)[0]
    b = scale.search(scale.build_index(points, "ivf", nlist=32, seed=7), queries, 15)[0]
    assert np.array_equal(a, b)
    h1, h2 = (scale.search(scale.build_index(points[:2000], "hnsw", M=8), queries, 15)[0] for _ in range(2))
    assert np.array_equal(h1, h2)  # one thread: the graph is built the same way every time
    rows = scale.compare_to_brute_force(points[:2000], queries[:20], kinds=("flat", "ivf"),
                                        params={"ivf": {"nlist": 16, "nprobe": 16}})
    assert [r["kind"] for r in rows] == ["brute force (numpy)", "flat", "ivf"]
    assert rows[1]["recall"] == 1.0 and rows[2]["recall"] == 1.0  # probing every list is exact
    assert rows[1]["memory_bytes"] >= 2000 * 64 * 4 and all(r["query_ms"] > 0 for r in rows)


def test_recall_by_hand_and_index_errors(gaussian_points):
    assert scale.recall_at_k(np.array([[1, 2, -1], [4, 5, 6]]), np.array([[2, 1, 3], [7, 8, 4]])) == 3 / 6
    points, _ = gaussian_points
    with pytest.raises(s.SearchInputError, match="empty"):
        scale.build_index(points[:0])
    with pytest.raises(s.SearchInputError, match="k=11 is more than the 10 indexed rows"):
        scale.search(scale.build_index(points[:10], "flat"), points[:2], 11)
    with pytest.raises(s.SearchInputError, match="k=11 is more than the 10 feature rows"):
        scale.brute_force_knn(points[:10], points[:2], 11)
    with pytest.raises(s.SearchInputError, match="unknown hnsw parameter"):
        scale.build_index(points, "hnsw", nprobe=3)
    with pytest.raises(s.SearchInputError, match="flat, hnsw, ivf"):
        scale.build_index(points, "lsh")
