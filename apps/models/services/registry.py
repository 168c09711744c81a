"""Base-model registry: diffusers directories on local disk, each with its training and
inference defaults. Web processes use it too, so nothing here imports torch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from apps.models.models import BaseModel, Family

# The pipeline class named in model_index.json tells the family (as workers.pipeline.base does).
_FAMILY_BY_PIPELINE_CLASS = {"StableDiffusionXLPipeline": Family.SDXL, "FluxPipeline": Family.FLUX}

# Tiny random-weight models: every code path runs on CPU in seconds. Few steps, 64 px, rank 4.
TINY_TRAIN_DEFAULTS: dict = {
    "rank": 4,
    "alpha": 4,
    "steps": 60,
    "learning_rate": 1e-3,
    "resolution": 64,
    "checkpoint_every": 20,
}
TINY_INFERENCE_DEFAULTS: dict[str, dict] = {
    Family.SDXL: {"steps": 4, "guidance": 5.0, "width": 64, "height": 64, "batch_size": 4},
    Family.FLUX: {"steps": 4, "guidance": 3.5, "width": 64, "height": 64, "batch_size": 4},
}

# Real base models (SDXL base 1.0, FLUX.1-dev) at 1024 px. Rank 16 and ~1000 steps at lr 1e-4
# is the DreamBooth-LoRA recipe's range for one person from 8-20 photos (800-1500 steps: fewer
# underfit the face, more start copying the training photos' backgrounds and expressions).
PRODUCTION_TRAIN_DEFAULTS: dict[str, dict] = {
    Family.SDXL: {
        "rank": 16,
        "alpha": 16,
        "steps": 1000,
        "learning_rate": 1e-4,
        "resolution": 1024,
        "checkpoint_every": 100,
    },
    Family.FLUX: {
        "rank": 16,
        "alpha": 16,
        "steps": 1000,
        "learning_rate": 1e-4,
        "resolution": 1024,
        "checkpoint_every": 100,
    },
}
PRODUCTION_INFERENCE_DEFAULTS: dict[str, dict] = {
    Family.SDXL: {"steps": 30, "guidance": 6.0, "width": 1024, "height": 1024, "batch_size": 4},
    Family.FLUX: {"steps": 28, "guidance": 3.5, "width": 1024, "height": 1024, "batch_size": 2},
}


class BaseModelMissing(ImproperlyConfigured):
    """No usable base model on this machine; the message says which command fixes it."""


def base_model_revision(path: str | Path) -> str:
    """sha256 of model_index.json (computed here, not via workers.pipeline, to stay torch-free)."""
    return hashlib.sha256((Path(path) / "model_index.json").read_bytes()).hexdigest()


def base_model_family_on_disk(path: str | Path) -> str:
    index = json.loads((Path(path) / "model_index.json").read_text())
    try:
        return _FAMILY_BY_PIPELINE_CLASS[index.get("_class_name", "")]
    except KeyError:
        raise ValidationError(f"{path}: not an SDXL or FLUX diffusers pipeline.") from None


def tiny_model_dir(family: str) -> Path:
    return Path(settings.MODEL_ROOT) / f"tiny-{family}"


def base_model_register(
    *,
    name: str,
    family: str,
    path: str | Path,
    train_defaults: dict | None = None,
    inference_defaults: dict | None = None,
    make_default: bool = False,
) -> BaseModel:
    """Create or update the registry row called ``name`` from the directory at ``path``.

    Re-registering refreshes the revision, so a rebuilt directory is noticed; adapters trained
    on the old revision keep pointing at this row (the revision is also in each adapter's
    metadata)."""
    path = Path(path).resolve()
    if not (path / "model_index.json").is_file():
        raise ValidationError(f"{path} is not a diffusers model directory (no model_index.json).")
    if family not in Family.values:
        raise ValidationError(f"Unknown model family {family!r}.")
    on_disk = base_model_family_on_disk(path)
    if on_disk != family:
        raise ValidationError(f"{path} holds a {on_disk} pipeline, not {family}.")
    with transaction.atomic():
        model = BaseModel.objects.select_for_update().filter(name=name).first() or BaseModel(
            name=name
        )
        model.family = family
        model.path = str(path)
        model.revision = base_model_revision(path)
        if train_defaults is not None:
            model.train_defaults = train_defaults
        if inference_defaults is not None:
            model.inference_defaults = inference_defaults
        model.enabled = True
        if make_default:
            # The partial unique constraint allows one default: clear the old one first.
            BaseModel.objects.filter(is_default=True).exclude(pk=model.pk).update(is_default=False)
            model.is_default = True
        model.full_clean(validate_constraints=False)
        model.save()
    return model


def base_model_register_tiny(*, family: str, make_default: bool = False) -> BaseModel:
    """Register the tiny model already built under MODEL_ROOT/tiny-<family>."""
    return base_model_register(
        name=f"tiny-{family}",
        family=family,
        path=tiny_model_dir(family),
        train_defaults=dict(TINY_TRAIN_DEFAULTS),
        inference_defaults=dict(TINY_INFERENCE_DEFAULTS[family]),
        make_default=make_default,
    )


def base_model_default() -> BaseModel:
    """The base model new training jobs use.

    settings.BASE_MODEL_DIR set: that directory (registered on first use, with the production
    defaults of its family). Otherwise the row marked default, else the tiny model of
    settings.BASE_MODEL_FAMILY if it has been built (``manage.py build_base_model --tiny``).
    """
    if settings.BASE_MODEL_DIR:
        path = Path(settings.BASE_MODEL_DIR).resolve()
        existing = BaseModel.objects.filter(path=str(path), enabled=True).first()
        if existing is not None and existing.is_default:
            return existing
        if not (path / "model_index.json").is_file():
            raise BaseModelMissing(f"BASE_MODEL_DIR={path} is not a diffusers model directory.")
        family = base_model_family_on_disk(path)
        return base_model_register(
            name=existing.name if existing else path.name[:80],
            family=family,
            path=path,
            train_defaults=None if existing else dict(PRODUCTION_TRAIN_DEFAULTS[family]),
            inference_defaults=None if existing else dict(PRODUCTION_INFERENCE_DEFAULTS[family]),
            make_default=True,
        )
    default = BaseModel.objects.filter(is_default=True, enabled=True).first()
    if default is not None:
        return default
    family = settings.BASE_MODEL_FAMILY
    if (tiny_model_dir(family) / "model_index.json").is_file():
        return base_model_register_tiny(family=family, make_default=True)
    raise BaseModelMissing(
        "No base model is installed. Run `manage.py build_base_model --tiny` (demo) or set "
        "BASE_MODEL_DIR to a local diffusers directory."
    )
