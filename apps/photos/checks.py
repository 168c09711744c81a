"""Verdicts for uploaded photos: reason codes, advice texts, thresholds and set-level checks.

Pure Python (numpy only): no Django, no dlib. `apps.photos.analysis` measures one photo and
calls `photo_reasons`; the Django service calls `evaluate_set` for the checks that need the
subject's other photos (duplicates, same person), passing accepted rows as plain dicts.

A photo is accepted when it has no reasons at all; every code below rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# --- Reason codes -----------------------------------------------------------------------------
# File gate: the bytes are not a photo we can open (no accepted JPEG is produced).
UNSUPPORTED_FORMAT = "unsupported_format"
FILE_TOO_LARGE = "file_too_large"
TOO_MANY_PIXELS = "too_many_pixels"
CORRUPT = "corrupt"
# Single photo: decoded fine, but not usable for learning a face.
TOO_SMALL = "too_small"
NO_FACE = "no_face"
MULTIPLE_FACES = "multiple_faces"
FACE_TOO_SMALL = "face_too_small"
FACE_CUT_OFF = "face_cut_off"
BLURRY = "blurry"
TOO_DARK = "too_dark"
TOO_BRIGHT = "too_bright"
CLIPPED = "clipped"
# Set level: depends on the subject's other photos (see evaluate_set).
DUPLICATE = "duplicate"
DIFFERENT_PERSON = "different_person"
# Not a verdict on the photo: the check itself failed on every retry (see photo_check_failed).
CHECK_FAILED = "check_failed"

FILE_GATE_CODES = (UNSUPPORTED_FORMAT, FILE_TOO_LARGE, TOO_MANY_PIXELS, CORRUPT)
SET_CODES = (DUPLICATE, DIFFERENT_PERSON)

# Advice shown to the customer: what happened, then what to do. `{...}` fields are filled from
# the thresholds by advice_for, so the texts stay true when settings change a limit.
REASONS: dict[str, str] = {
    UNSUPPORTED_FORMAT: (
        "We can't read this kind of file. Please upload a photo in JPEG, PNG, WebP or HEIC format."
    ),
    FILE_TOO_LARGE: (
        "This file is larger than {max_file_mb} MB. Please upload the photo as your phone or "
        "camera saved it, or export a smaller copy."
    ),
    TOO_MANY_PIXELS: (
        "This image has more pixels than we can process ({max_megapixels} megapixels at most). "
        "Please upload a photo from your camera's normal mode, or a smaller copy."
    ),
    CORRUPT: (
        "This file is damaged or incomplete, so we can't open it. Please upload the photo again."
    ),
    TOO_SMALL: (
        "This photo is too small (at least {min_short_side} pixels on the short side are needed). "
        "Please upload the original photo, not a thumbnail or a screenshot."
    ),
    NO_FACE: (
        "We couldn't find a face in this photo. Please upload a photo where your face is clearly "
        "visible and turned towards the camera."
    ),
    MULTIPLE_FACES: (
        "We found more than one face in this photo. Please upload photos where you are the only "
        "person in the picture."
    ),
    FACE_TOO_SMALL: (
        "Your face is too small in this photo — take it from closer, so your face fills more of "
        "the picture."
    ),
    FACE_CUT_OFF: (
        "Part of your face is cut off at the edge of this photo. Please use one with your whole "
        "head inside the picture."
    ),
    BLURRY: "This photo is blurry — retake it holding the camera still, in good light.",
    TOO_DARK: "This photo is too dark — retake it facing a window or in brighter light.",
    TOO_BRIGHT: (
        "This photo is too bright — retake it out of direct sunlight and without the flash."
    ),
    CLIPPED: (
        "Parts of your face are washed out to pure white or lost in pure black — retake it in "
        "softer, even light."
    ),
    DUPLICATE: (
        "You've already uploaded this photo, or one almost identical to it. Please choose a "
        "different photo — variety helps us learn your face."
    ),
    DIFFERENT_PERSON: (
        "This photo looks like a different person from your other photos. Please upload only "
        "photos of the same person."
    ),
    CHECK_FAILED: "We couldn't check this photo. Please upload it again.",
}

# Every tunable number of the photo gate, in one place. The Django layer merges
# settings.PHOTO_CHECKS over this dict; unknown keys are an error (see resolve_thresholds).
DEFAULT_THRESHOLDS: dict[str, Any] = {
    # --- File gate, checked before any pixel is decoded ---
    # Largest upload accepted, in bytes (the product limit; settings.PHOTO_MAX_UPLOAD_BYTES).
    "max_file_bytes": 20 * 1024 * 1024,
    # Largest width*height accepted, read from the header before decoding. 50 MP admits 48 MP
    # phone photos; the effective limit is never above Pillow's own MAX_IMAGE_PIXELS guard.
    "max_pixels": 50_000_000,
    # --- Resolution ---
    # Shorter side of the (oriented) original, in pixels, below which the photo is too_small.
    "min_short_side": 512,
    # --- Face detection (dlib HOG) ---
    # Long side, in pixels, of the downscaled copy the detector runs on. Faces narrower than
    # ~80 px there are found only by the slower second pass (upsample 1, run only when the first
    # finds nothing; it keeps confident candidates only). Below ~40 px: no_face.
    "detect_max_side": 800,
    # Detector score a candidate needs to count as the face (0.0 is dlib's own cut-off).
    "face_min_score": 0.0,
    # Candidates scoring at least this are "confident". The main face is the widest confident
    # candidate (the widest one above face_min_score when none is). Another candidate counts as
    # a second face only if it is confident, at least second_face_min_rel_width as wide as the
    # main face and does not overlap it. This keeps HOG's spurious background "faces" (patches,
    # logos, textures; they score 0-0.3) from rejecting ordinary photos; measured in
    # bench/photo_checks.py ("hog_false_positives").
    "confident_face_min_score": 0.5,
    "second_face_min_rel_width": 0.4,
    # Candidates overlapping the main face by more than this intersection-over-union are the
    # same face found twice.
    "same_face_max_iou": 0.2,
    # Face box width as a fraction of the image's shorter side, and in original pixels, below
    # which the face is too small to learn from (the box spans roughly eyebrows to chin).
    "min_face_fraction": 0.12,
    "min_face_px": 100,
    # Gap between the face box and every image edge, as a fraction of the face box width; a
    # smaller gap (or a box outside the frame) means the head is cut off.
    "face_edge_margin": 0.05,
    # --- Sharpness: variance of the Laplacian of the grey face box resized to 128x128, contrast
    # normalised (analysis.face_sharpness). Measured on the test portrait: sharp ~120, Gaussian
    # blur of 1% of the face width ~21, 3% ~4. Real sharp phone selfies score higher still.
    "min_sharpness": 30.0,
    # --- Exposure, on 0..255 luma ---
    # Mean brightness of the face box (of the whole image when no face is found).
    "min_face_brightness": 50.0,
    "max_face_brightness": 215.0,
    # Fraction of face-box pixels at the ends of the range (<= 3 or >= 252) above which detail
    # is lost; dark and bright clipping are counted separately.
    "max_clipped_fraction": 0.15,
    # --- Duplicates within a subject's set ---
    # Largest Hamming distance between 64-bit DCT perceptual hashes that still counts as the
    # same shot. Measured on a test selfie: re-encode q60, half size, +-20% brightness,
    # greyscale: 0-2; 2% crop: 4; 3 degree rotation: 6; 5% crop: 8. The same pixels re-framed:
    # moved 40 px: 0 (too small a change to tell from a copy), other background or scale: 8,
    # moved 100 px: 12; distinct framings: 16-34. Mirror images are compared through the
    # mirrored hash.
    "near_duplicate_max_distance": 6,
    # --- Same person ---
    # Euclidean distance between dlib face descriptors above which two faces are different
    # people (dlib's documented operating point: 0.6, ~99.4% accuracy on LFW).
    "same_person_max_distance": 0.6,
    # Photos with a face that must be accepted before outliers are flagged at all.
    "same_person_min_photos": 3,
    # --- Outputs ---
    # Long side of the stored accepted JPEG. JPEGs are decoded with libjpeg's DCT scaling, the
    # strongest of 1/2, 1/4, 1/8 that keeps at least 90% of this, so a 4000x3000 photo is stored
    # at 2000x1500 without a full-resolution decode (plenty for 1024x1024 training crops).
    "accepted_max_side": 2048,
    "accepted_jpeg_quality": 92,
    # Square face crop: side in pixels, and the margin added on each side of the face box as a
    # fraction of its width (0.6 -> the square is 2.2 face widths: hair, ears and chin).
    "face_crop_size": 512,
    "face_crop_margin": 0.6,
    "face_crop_jpeg_quality": 90,
}


def resolve_thresholds(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """DEFAULT_THRESHOLDS with `overrides` applied; an unknown key raises KeyError (a typo in
    settings.PHOTO_CHECKS must not silently leave a check at its default)."""
    merged = dict(DEFAULT_THRESHOLDS)
    if overrides:
        unknown = sorted(set(overrides) - set(DEFAULT_THRESHOLDS))
        if unknown:
            raise KeyError(f"unknown photo check thresholds: {', '.join(unknown)}")
        merged.update(overrides)
    return merged


def advice_for(codes: Iterable[str], *, thresholds: Mapping[str, Any] | None = None) -> list[str]:
    """Customer-facing advice for each code, in the given order; unknown codes are skipped."""
    limits = resolve_thresholds(thresholds)
    fields = {
        "max_file_mb": round(limits["max_file_bytes"] / (1024 * 1024)),
        "max_megapixels": round(limits["max_pixels"] / 1_000_000),
        "min_short_side": limits["min_short_side"],
    }
    return [REASONS[code].format(**fields) for code in codes if code in REASONS]


# --- Single photo -----------------------------------------------------------------------------

Box = tuple[int, int, int, int]  # left, top, right, bottom


def _iou(a: Box, b: Box) -> float:
    inter_w = min(a[2], b[2]) - max(a[0], b[0])
    inter_h = min(a[3], b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def select_faces(
    candidates: Sequence[tuple[Box, float]], *, thresholds: Mapping[str, Any] | None = None
) -> list[int]:
    """Indices of the candidates that count as real faces, the main face first.

    The main face is the widest candidate scoring at least confident_face_min_score, or when
    there is none the widest scoring at least face_min_score (ties: higher score). Another
    candidate counts only if it is confident too, at least second_face_min_rel_width as wide as
    the main face and does not overlap it (IoU above same_face_max_iou: the same face found
    twice). Weaker or smaller candidates are the HOG detector's usual false positives on
    backgrounds, clothing and patterns, which can be as wide as the real face.
    """
    limits = resolve_thresholds(thresholds)
    confident_score = limits["confident_face_min_score"]
    eligible = [i for i, (_, score) in enumerate(candidates) if score >= limits["face_min_score"]]
    if not eligible:
        return []

    def width(i: int) -> int:
        box = candidates[i][0]
        return box[2] - box[0]

    confident = [i for i in eligible if candidates[i][1] >= confident_score]
    main = max(confident or eligible, key=lambda i: (width(i), candidates[i][1]))
    main_box = candidates[main][0]
    faces = [main]
    for i, (box, score) in enumerate(candidates):
        if i == main:
            continue
        if (
            score >= confident_score
            and width(i) >= limits["second_face_min_rel_width"] * width(main)
            and _iou(box, main_box) <= limits["same_face_max_iou"]
        ):
            faces.append(i)
    return faces


def photo_reasons(
    metrics: Mapping[str, Any], *, thresholds: Mapping[str, Any] | None = None
) -> list[str]:
    """Single-photo reasons from measurements of a decoded photo.

    metrics keys: width, height (oriented original), face_count, and when face_count >= 1:
    face_width (original pixels), face_ratio (face width / shorter side), face_edge_gap (smallest
    gap between face box and frame edge / face width; negative when the box leaves the frame),
    sharpness, face_brightness, face_dark_clip, face_bright_clip; always brightness (whole image).
    """
    limits = resolve_thresholds(thresholds)
    reasons: list[str] = []
    if min(metrics["width"], metrics["height"]) < limits["min_short_side"]:
        reasons.append(TOO_SMALL)
    face_count = metrics.get("face_count", 0)
    if face_count == 0:
        reasons.append(NO_FACE)
        # Without a face the whole image stands in, so "too dark to see anything" is still said.
        if metrics["brightness"] < limits["min_face_brightness"]:
            reasons.append(TOO_DARK)
        elif metrics["brightness"] > limits["max_face_brightness"]:
            reasons.append(TOO_BRIGHT)
        return reasons
    if face_count > 1:
        reasons.append(MULTIPLE_FACES)
    if (
        metrics["face_ratio"] < limits["min_face_fraction"]
        or metrics["face_width"] < limits["min_face_px"]
    ):
        reasons.append(FACE_TOO_SMALL)
    if metrics["face_edge_gap"] < limits["face_edge_margin"]:
        reasons.append(FACE_CUT_OFF)
    if metrics["sharpness"] < limits["min_sharpness"]:
        reasons.append(BLURRY)
    if metrics["face_brightness"] < limits["min_face_brightness"]:
        reasons.append(TOO_DARK)
    elif metrics["face_brightness"] > limits["max_face_brightness"]:
        reasons.append(TOO_BRIGHT)
    if max(metrics["face_dark_clip"], metrics["face_bright_clip"]) > limits["max_clipped_fraction"]:
        reasons.append(CLIPPED)
    return reasons


# --- Faces and embeddings ---------------------------------------------------------------------


def embedding_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between two face descriptors (dlib: < 0.6 means the same person)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def robust_mean_embedding(embeddings: Sequence[Sequence[float]]) -> list[float]:
    """A reference descriptor that a minority of wrong photos cannot drag away.

    Takes the coordinate-wise median, drops the embeddings farthest from it (20%, rounded down,
    but at least one once there are 3 or more) and returns the mean of the rest. With 3 photos
    of which one is another person, the reference is the mean of the two that agree.
    """
    if len(embeddings) == 0:
        raise ValueError("robust_mean_embedding needs at least one embedding")
    stack = np.asarray(embeddings, dtype=np.float64)
    if len(stack) < 3:
        return [float(x) for x in stack.mean(axis=0)]
    median = np.median(stack, axis=0)
    drop = max(1, len(stack) // 5)
    distances = np.linalg.norm(stack - median, axis=1)
    keep = np.argsort(distances, kind="stable")[: len(stack) - drop]
    return [float(x) for x in stack[keep].mean(axis=0)]


def different_person_indices(
    embeddings: Sequence[Sequence[float]],
    *,
    reference: Sequence[float] | None = None,
    thresholds: Mapping[str, Any] | None = None,
) -> list[int]:
    """Indices of embeddings farther than same_person_max_distance from the reference (default:
    the robust mean of `embeddings`). Flags nothing below same_person_min_photos embeddings.
    The service can call it on a subject's accepted rows when the third photo arrives, to
    re-check the first two, which could not be judged on their own."""
    limits = resolve_thresholds(thresholds)
    if len(embeddings) < limits["same_person_min_photos"]:
        return []
    centre = reference if reference is not None else robust_mean_embedding(embeddings)
    return [
        i
        for i, emb in enumerate(embeddings)
        if embedding_distance(emb, centre) > limits["same_person_max_distance"]
    ]


# --- Set level --------------------------------------------------------------------------------


def hamming_distance(a: int, b: int) -> int:
    return (int(a) ^ int(b)).bit_count()


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _is_duplicate(item: Any, kept: Any, max_distance: int) -> bool:
    for key in ("sha256", "pixel_hash"):
        mine, theirs = _field(item, key), _field(kept, key)
        if mine and mine == theirs:  # blank DB values never match
            return True
    theirs = _field(kept, "phash")
    if theirs is None:
        return False
    # The new photo's mirrored hash against the kept one catches a selfie-camera mirror image;
    # kept rows need no mirrored hash of their own.
    for key in ("phash", "phash_mirror"):
        mine = _field(item, key)
        if mine is not None and hamming_distance(mine, theirs) <= max_distance:
            return True
    return False


def evaluate_set(
    analyses: Sequence[Any],
    *,
    thresholds: Mapping[str, Any] | None = None,
    existing: Sequence[Mapping[str, Any]] = (),
) -> list[list[str]]:
    """Set-level reasons (duplicate, different_person) for each new analysis, in order.

    analyses: PhotoAnalysis objects or dicts with sha256, pixel_hash, phash, phash_mirror
    (optional), embedding, reasons (single-photo reasons) and accepted_jpeg (None when the file
    could not be decoded; only its truthiness is used, so dicts may carry True instead).
    existing: the subject's already-accepted photos as dicts with sha256, pixel_hash, phash and
    embedding (e.g. DB rows via .values()).

    Duplicates: each decodable photo is compared with `existing` and with the photos of this
    batch accepted before it, so of two duplicates in one batch the first is kept. Exact:
    equal sha256 (source bytes) or pixel_hash; near: perceptual hashes within
    near_duplicate_max_distance bits (also against the new photo's mirror image).

    Same person: the photos still accepted after the duplicate check are compared with a
    reference embedding, only once existing + those photos number same_person_min_photos (3).
    The reference is the robust mean of `existing` when it holds at least that many (already
    accepted photos are trusted; a whole batch of someone else cannot outvote them), otherwise
    of existing + the batch candidates together.
    """
    limits = resolve_thresholds(thresholds)
    max_distance = limits["near_duplicate_max_distance"]
    results: list[list[str]] = [[] for _ in analyses]
    kept: list[Any] = list(existing)
    candidates: list[int] = []
    for index, item in enumerate(analyses):
        if not _field(item, "accepted_jpeg"):
            continue  # never decoded: nothing to compare
        if any(_is_duplicate(item, other, max_distance) for other in kept):
            results[index].append(DUPLICATE)
            continue
        if _field(item, "reasons"):
            continue  # rejected on its own: neither kept nor judged for likeness
        kept.append(item)
        if _field(item, "embedding") is not None:
            candidates.append(index)

    existing_embeddings = [
        list(_field(row, "embedding")) for row in existing if _field(row, "embedding") is not None
    ]
    batch_embeddings = [list(_field(analyses[i], "embedding")) for i in candidates]
    pool = existing_embeddings + batch_embeddings
    if len(pool) < limits["same_person_min_photos"] or not batch_embeddings:
        return results
    if len(existing_embeddings) >= limits["same_person_min_photos"]:
        reference = robust_mean_embedding(existing_embeddings)
    else:
        reference = robust_mean_embedding(pool)
    for index, emb in zip(candidates, batch_embeddings, strict=True):
        if embedding_distance(emb, reference) > limits["same_person_max_distance"]:
            results[index].append(DIFFERENT_PERSON)
    return results
