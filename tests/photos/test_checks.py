"""Verdict logic in apps.photos.checks: pure functions, no dlib, no images.

different_person is tested here with synthetic embeddings: scikit-image ships only one usable
face photo (see tests/photos/images.py), so "another person" is a vector at a known distance.
"""

from __future__ import annotations

import numpy as np
import pytest

from apps.photos import checks
from apps.photos.checks import (
    DEFAULT_THRESHOLDS,
    REASONS,
    advice_for,
    different_person_indices,
    embedding_distance,
    evaluate_set,
    hamming_distance,
    photo_reasons,
    resolve_thresholds,
    robust_mean_embedding,
    select_faces,
)

ALL_CODES = [
    "unsupported_format",
    "file_too_large",
    "too_many_pixels",
    "corrupt",
    "too_small",
    "no_face",
    "multiple_faces",
    "face_too_small",
    "face_cut_off",
    "blurry",
    "too_dark",
    "too_bright",
    "clipped",
    "duplicate",
    "different_person",
    "check_failed",
]


# --- Codes, advice, thresholds ----------------------------------------------------------------


def test_every_reason_code_has_advice():
    assert list(REASONS) == ALL_CODES
    for code, text in REASONS.items():
        assert text.strip().endswith("."), code
        assert len(text) < 200, code


def test_advice_fills_limits_from_thresholds_and_skips_unknown_codes():
    assert advice_for(["blurry", "nonsense", "file_too_large"]) == [
        "This photo is blurry — retake it holding the camera still, in good light.",
        "This file is larger than 20 MB. Please upload the photo as your phone or camera saved "
        "it, or export a smaller copy.",
    ]
    [text] = advice_for(["too_small"], thresholds={"min_short_side": 768})
    assert "768 pixels" in text
    assert "{" not in " ".join(advice_for(ALL_CODES))


def test_face_too_small_advice_says_take_it_from_closer():
    assert advice_for(["face_too_small"])[0].startswith(
        "Your face is too small in this photo — take it from closer"
    )


def test_resolve_thresholds_merges_and_rejects_unknown_keys():
    merged = resolve_thresholds({"min_sharpness": 10.0})
    assert merged["min_sharpness"] == 10.0
    assert merged["max_file_bytes"] == 20 * 1024 * 1024
    assert DEFAULT_THRESHOLDS["min_sharpness"] == 30.0  # the defaults are not modified
    assert resolve_thresholds(None) == DEFAULT_THRESHOLDS
    with pytest.raises(KeyError, match="min_sharpnes"):
        resolve_thresholds({"min_sharpnes": 10.0})


def test_default_thresholds_product_limits():
    assert DEFAULT_THRESHOLDS["max_file_bytes"] == 20 * 1024 * 1024
    assert DEFAULT_THRESHOLDS["min_short_side"] == 512
    assert DEFAULT_THRESHOLDS["same_person_max_distance"] == 0.6
    assert DEFAULT_THRESHOLDS["same_person_min_photos"] == 3


# --- Face selection (HOG false-positive mitigation) -------------------------------------------

FACE = ((400, 300, 600, 500), 1.4)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        pytest.param([], [], id="nothing"),
        pytest.param([((0, 0, 90, 90), -0.2)], [], id="below-dlib-cut-off"),
        pytest.param([FACE], [0], id="one-face"),
        pytest.param([((10, 10, 40, 40), 0.1)], [0], id="weak-face-is-still-the-face"),
        # A spurious background "face" as wide as the real one but weak (the astronaut's patch).
        pytest.param([((30, 600, 240, 810), 0.12), FACE], [1], id="weak-equal-size-ignored"),
        pytest.param([FACE, ((900, 100, 960, 160), 1.8)], [0], id="confident-but-tiny-ignored"),
        pytest.param([FACE, ((430, 320, 610, 500), 0.9)], [0], id="same-face-twice"),
        pytest.param([FACE, ((800, 300, 980, 480), 0.9)], [0, 1], id="second-real-face"),
        pytest.param([((800, 300, 980, 480), 0.9), FACE], [1, 0], id="widest-is-main"),
    ],
)
def test_select_faces(candidates, expected):
    assert select_faces(candidates) == expected


# --- Single-photo verdicts --------------------------------------------------------------------

GOOD_METRICS = {
    "width": 1600,
    "height": 1200,
    "brightness": 110.0,
    "face_count": 1,
    "face_width": 210.0,
    "face_ratio": 0.175,
    "face_edge_gap": 1.0,
    "sharpness": 100.0,
    "face_brightness": 150.0,
    "face_dark_clip": 0.0,
    "face_bright_clip": 0.0,
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="good"),
        pytest.param({"width": 511}, ["too_small"], id="short-side"),
        pytest.param({"face_count": 0}, ["no_face"], id="no-face"),
        pytest.param({"face_count": 0, "brightness": 20.0}, ["no_face", "too_dark"], id="dark"),
        pytest.param({"face_count": 2}, ["multiple_faces"], id="two-faces"),
        pytest.param({"face_ratio": 0.11}, ["face_too_small"], id="face-fraction"),
        pytest.param({"face_width": 99.0}, ["face_too_small"], id="face-pixels"),
        pytest.param({"face_edge_gap": 0.04}, ["face_cut_off"], id="face-at-edge"),
        pytest.param({"face_edge_gap": -0.2}, ["face_cut_off"], id="face-outside"),
        pytest.param({"sharpness": 29.9}, ["blurry"], id="blurry"),
        pytest.param({"face_brightness": 49.0}, ["too_dark"], id="too-dark"),
        pytest.param({"face_brightness": 216.0}, ["too_bright"], id="too-bright"),
        pytest.param({"face_bright_clip": 0.16}, ["clipped"], id="clipped-white"),
        pytest.param({"face_dark_clip": 0.16}, ["clipped"], id="clipped-black"),
        pytest.param(
            {"width": 300, "height": 300, "face_width": 40.0, "sharpness": 5.0},
            ["too_small", "face_too_small", "blurry"],
            id="several",
        ),
    ],
)
def test_photo_reasons(changes, expected):
    assert photo_reasons({**GOOD_METRICS, **changes}) == expected


def test_photo_reasons_honours_overrides():
    assert photo_reasons({**GOOD_METRICS, "sharpness": 20.0}) == ["blurry"]
    assert (
        photo_reasons({**GOOD_METRICS, "sharpness": 20.0}, thresholds={"min_sharpness": 10}) == []
    )
    assert photo_reasons(GOOD_METRICS, thresholds={"min_sharpness": 150.0}) == ["blurry"]


# --- Embeddings -------------------------------------------------------------------------------


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.normal(size=128)
    return vector / np.linalg.norm(vector)


def _person(seed: int = 0):
    """A synthetic 'person': a unit-length centre; photos of them lie ~0.3 away."""
    rng = np.random.default_rng(seed)
    centre = _unit(rng)

    def photo(spread: float = 0.3) -> list[float]:
        return list(centre + spread * _unit(rng))

    return centre, photo


def test_embedding_distance_is_euclidean():
    assert embedding_distance([0.0, 3.0], [4.0, 0.0]) == pytest.approx(5.0)
    assert embedding_distance([0.1] * 128, [0.1] * 128) == 0.0


def test_robust_mean_resists_a_minority_outlier():
    centre, photo = _person(1)
    other, _ = _person(2)
    same = [photo() for _ in range(4)]
    reference = robust_mean_embedding([*same, list(other)])
    assert embedding_distance(reference, centre) < 0.25
    assert embedding_distance(np.mean([*same, other], axis=0), centre) > embedding_distance(
        reference, centre
    )
    # With three photos, one of someone else, the reference is the mean of the two that agree.
    assert robust_mean_embedding([same[0], same[1], list(other)]) == pytest.approx(
        list(np.mean([same[0], same[1]], axis=0))
    )
    assert robust_mean_embedding([same[0]]) == pytest.approx(same[0])
    with pytest.raises(ValueError):
        robust_mean_embedding([])


def test_different_person_indices_needs_three_photos():
    _, photo = _person(3)
    other, _ = _person(4)
    assert different_person_indices([photo(), list(other)]) == []
    assert different_person_indices([photo(), list(other), photo()]) == [1]
    assert different_person_indices([photo() for _ in range(6)]) == []


# --- Set level --------------------------------------------------------------------------------


def _item(n: int, *, embedding=None, reasons=(), decoded=True, **hashes) -> dict:
    """A PhotoAnalysis-like dict with distinct hashes unless given."""
    return {
        "sha256": hashes.get("sha256", f"sha-{n}"),
        "pixel_hash": hashes.get("pixel_hash", f"px-{n}"),
        "phash": hashes.get("phash", (0x9E3779B97F4A7C15 * (n + 1)) % 2**64),
        "phash_mirror": hashes.get("phash_mirror"),
        "embedding": embedding,
        "reasons": list(reasons),
        "accepted_jpeg": b"jpeg" if decoded else None,
    }


def test_distinct_photos_have_no_set_reasons():
    _, photo = _person(5)
    batch = [_item(n, embedding=photo()) for n in range(5)]
    for a in batch:
        for b in batch:
            if a is not b:
                assert hamming_distance(a["phash"], b["phash"]) > 6
    assert evaluate_set(batch) == [[]] * 5


def test_exact_duplicate_in_a_batch_keeps_the_first():
    batch = [_item(0), _item(1), _item(2, sha256="sha-0", phash=123)]
    assert evaluate_set(batch) == [[], [], ["duplicate"]]


def test_same_pixels_different_bytes_is_a_duplicate():
    batch = [_item(0), _item(1, pixel_hash="px-0", phash=123)]
    assert evaluate_set(batch) == [[], ["duplicate"]]


def test_blank_hashes_from_the_database_never_match():
    existing = [{"sha256": "", "pixel_hash": None, "phash": None, "embedding": None}]
    assert evaluate_set([_item(0, pixel_hash="")], existing=existing) == [[]]


def test_near_duplicate_by_perceptual_hash_threshold():
    base = 0x0123456789ABCDEF
    six_bits, seven_bits = base ^ 0b111111, base ^ 0b1111111
    assert evaluate_set([_item(0, phash=base), _item(1, phash=six_bits)]) == [[], ["duplicate"]]
    assert evaluate_set([_item(0, phash=base), _item(1, phash=seven_bits)]) == [[], []]
    assert evaluate_set(
        [_item(0, phash=base), _item(1, phash=seven_bits)],
        thresholds={"near_duplicate_max_distance": 7},
    ) == [[], ["duplicate"]]


def test_mirror_image_is_a_near_duplicate():
    base = 0x0123456789ABCDEF
    mirrored = _item(1, phash=~base % 2**64, phash_mirror=base ^ 1)
    assert evaluate_set([_item(0, phash=base), mirrored]) == [[], ["duplicate"]]


def test_duplicate_of_an_existing_accepted_photo():
    existing = [{"sha256": "old", "pixel_hash": "old-px", "phash": 42, "embedding": None}]
    batch = [_item(0, sha256="old"), _item(1, phash=42 ^ 0b11), _item(2)]
    assert evaluate_set(batch, existing=existing) == [["duplicate"], ["duplicate"], []]


def test_rejected_and_undecodable_photos_are_not_kept():
    batch = [
        _item(0, decoded=False),  # corrupt file: never compared
        _item(1, reasons=["blurry"]),  # rejected on its own: not kept ...
        _item(2, sha256="sha-1"),  # ... so its sharp twin is accepted
        _item(3, sha256="sha-0"),
    ]
    assert evaluate_set(batch) == [[], [], [], []]
    # A rejected photo that repeats a kept one is still told it is a duplicate.
    assert evaluate_set([_item(0), _item(1, sha256="sha-0", reasons=["blurry"])]) == [
        [],
        ["duplicate"],
    ]


def test_different_person_needs_three_accepted_photos():
    _, photo = _person(6)
    other, _ = _person(7)
    two = [_item(0, embedding=photo()), _item(1, embedding=list(other))]
    assert evaluate_set(two) == [[], []]
    three = [*two, _item(2, embedding=photo())]
    assert evaluate_set(three) == [[], ["different_person"], []]


def test_different_person_counts_existing_photos():
    _, photo = _person(8)
    other, _ = _person(9)
    existing = [
        {"sha256": f"e{n}", "pixel_hash": f"ep{n}", "phash": n, "embedding": photo()}
        for n in range(2)
    ]
    batch = [_item(10, embedding=list(other))]
    assert evaluate_set(batch, existing=existing) == [["different_person"]]
    assert evaluate_set(batch, existing=existing[:1]) == [[]]


def test_existing_photos_outvote_a_whole_batch_of_someone_else():
    _, photo = _person(10)
    _, other_photo = _person(11)
    existing = [
        {"sha256": f"e{n}", "pixel_hash": f"ep{n}", "phash": n, "embedding": photo()}
        for n in range(3)
    ]
    batch = [_item(20 + n, embedding=other_photo()) for n in range(4)]
    assert evaluate_set(batch, existing=existing) == [["different_person"]] * 4


def test_duplicates_and_rejected_photos_are_not_judged_for_likeness():
    _, photo = _person(12)
    other, _ = _person(13)
    batch = [
        _item(0, embedding=photo()),
        _item(1, embedding=photo()),
        _item(2, embedding=list(other), reasons=["blurry"]),
        _item(3, embedding=list(other), sha256="sha-0"),
    ]
    assert evaluate_set(batch) == [[], [], [], ["duplicate"]]


def test_perturbed_real_scale_embedding_is_flagged():
    """Vectors 0.45 from the person stay; 0.9 away (typical for different people) are flagged."""
    centre, _ = _person(14)
    rng = np.random.default_rng(15)
    near = [list(centre + 0.45 * _unit(rng)) for _ in range(4)]
    far = list(centre + 0.9 * _unit(rng))
    results = evaluate_set([_item(n, embedding=e) for n, e in enumerate([*near, far])])
    assert results == [[], [], [], [], ["different_person"]]


def test_objects_with_attributes_work_like_dicts():
    class Analysis:
        def __init__(self, **fields):
            self.__dict__.update(fields)

    batch = [Analysis(**_item(0)), Analysis(**_item(1, sha256="sha-0"))]
    assert evaluate_set(batch) == [[], ["duplicate"]]


def test_codes_are_module_constants():
    assert checks.DUPLICATE == "duplicate"
    assert set(checks.FILE_GATE_CODES) | set(checks.SET_CODES) <= set(REASONS)
