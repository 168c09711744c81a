"""Register base models: the tiny random-weight demo models, or a real diffusers directory.

    manage.py build_base_model --tiny [--family sdxl|flux] [--if-missing]
    manage.py build_base_model --path /models/sdxl-base --name sdxl-base-1.0 [--default]

--tiny builds MODEL_ROOT/tiny-<family> (both families unless --family) and registers them as
"tiny-sdxl"/"tiny-flux"; the BASE_MODEL_FAMILY one becomes the default unless a non-tiny model
already is. --if-missing does nothing (and loads no torch) when the model is built and
registered already: `make run` calls it on every start.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.models import services
from apps.models.models import BaseModel, Family
from apps.models.services.registry import (
    PRODUCTION_INFERENCE_DEFAULTS,
    PRODUCTION_TRAIN_DEFAULTS,
    base_model_family_on_disk,
)


class Command(BaseCommand):
    help = "Build and register the tiny demo base models, or register a local diffusers model."

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true", help="build the tiny demo model(s)")
        parser.add_argument("--family", choices=Family.values, help="only this family")
        parser.add_argument(
            "--if-missing", action="store_true", help="skip models already built and registered"
        )
        parser.add_argument("--path", help="register this local diffusers directory")
        parser.add_argument("--name", help="registry name for --path (default: directory name)")
        parser.add_argument("--default", action="store_true", help="make --path the default")

    def handle(self, *args, tiny, family, if_missing, path, name, default, **options):
        if tiny == bool(path):
            raise CommandError("Give either --tiny or --path DIR.")
        if path:
            self._register_path(path, name, default)
            return
        for fam in [family] if family else list(Family.values):
            self._tiny(fam, if_missing)

    def _tiny(self, family: str, if_missing: bool) -> None:
        directory = services.tiny_model_dir(family)
        name = f"tiny-{family}"
        registered = BaseModel.objects.filter(name=name).first()
        if (
            if_missing
            and registered is not None
            and (directory / "model_index.json").is_file()
            and registered.revision == services.base_model_revision(directory)
        ):
            self.stdout.write(f"{name}: already built and registered.")
            return
        started = time.monotonic()
        from apps.models.services.jobs import pipeline_module

        pipeline_module("tiny").build_tiny_pipeline(family, directory)
        current = BaseModel.objects.filter(is_default=True).first()
        make_default = family == settings.BASE_MODEL_FAMILY and (
            current is None or current.name.startswith("tiny-")
        )
        model = services.base_model_register_tiny(family=family, make_default=make_default)
        self.stdout.write(
            f"{name}: built at {directory} in {time.monotonic() - started:.1f} s"
            f"{' (default)' if model.is_default else ''}."
        )

    def _register_path(self, path: str, name: str | None, default: bool) -> None:
        from pathlib import Path

        directory = Path(path).resolve()
        try:
            family = base_model_family_on_disk(directory)
            model = services.base_model_register(
                name=name or directory.name,
                family=family,
                path=directory,
                train_defaults=dict(PRODUCTION_TRAIN_DEFAULTS[family]),
                inference_defaults=dict(PRODUCTION_INFERENCE_DEFAULTS[family]),
                make_default=default,
            )
        except (ValidationError, FileNotFoundError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        self.stdout.write(
            f"{model.name}: {family} at {directory}, revision {model.revision[:12]}"
            f"{' (default)' if model.is_default else ''}."
        )
