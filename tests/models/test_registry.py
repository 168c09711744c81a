"""Base-model registry, the build_base_model command and the seeded style pack."""

from __future__ import annotations

import re
import shutil

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command, get_commands

from apps.models import selectors, services
from apps.models.models import BaseModel, Style
from apps.models.services.generation import style_prompt_template


def test_register_records_the_revision_and_moves_the_default(db, tiny_model_dirs):
    from workers.pipeline.base import model_revision

    sdxl = services.base_model_register(
        name="a", family="sdxl", path=tiny_model_dirs["sdxl"], make_default=True
    )
    assert sdxl.revision == model_revision(tiny_model_dirs["sdxl"]) and sdxl.is_default
    flux = services.base_model_register(
        name="b",
        family="flux",
        path=tiny_model_dirs["flux"],
        train_defaults={"steps": 5},
        make_default=True,
    )
    sdxl.refresh_from_db()
    assert flux.is_default and not sdxl.is_default and flux.train_defaults == {"steps": 5}
    again = services.base_model_register(name="b", family="flux", path=tiny_model_dirs["flux"])
    assert again.pk == flux.pk and again.train_defaults == {"steps": 5}  # kept when not given


def test_register_refuses_a_wrong_family_or_a_missing_directory(db, tiny_model_dirs, tmp_path):
    with pytest.raises(ValidationError, match="holds a flux pipeline"):
        services.base_model_register(name="x", family="sdxl", path=tiny_model_dirs["flux"])
    with pytest.raises(ValidationError, match="not a diffusers model directory"):
        services.base_model_register(name="x", family="sdxl", path=tmp_path)
    assert not BaseModel.objects.exists()


def test_default_is_the_tiny_model_of_the_configured_family(db, tiny_model_dirs, settings):
    settings.BASE_MODEL_FAMILY = "flux"
    model = services.base_model_default()
    assert (model.name, model.family, model.is_default) == ("tiny-flux", "flux", True)
    assert model.train_defaults["rank"] == 4 and model.train_defaults["steps"] == 60
    assert services.base_model_default().pk == model.pk


def test_base_model_dir_setting_registers_that_directory(db, tiny_model_dirs, settings, tmp_path):
    production = tmp_path / "sdxl-base"
    shutil.copytree(tiny_model_dirs["sdxl"], production)
    settings.BASE_MODEL_DIR = str(production)
    model = services.base_model_default()
    assert (model.name, model.family, model.is_default) == ("sdxl-base", "sdxl", True)
    assert model.train_defaults["rank"] == 16 and 800 <= model.train_defaults["steps"] <= 1500
    assert model.inference_defaults["width"] == 1024
    assert services.base_model_default().pk == model.pk


def test_no_model_anywhere_says_what_to_run(db, settings, tmp_path):
    settings.MODEL_ROOT = tmp_path
    with pytest.raises(services.BaseModelMissing, match="build_base_model --tiny"):
        services.base_model_default()


def test_build_base_model_tiny_registers_both_families(db, tiny_model_dirs, settings, capsys):
    assert "build_base_model" in get_commands()  # `manage.py bootstrap` looks for it
    settings.BASE_MODEL_FAMILY = "sdxl"
    call_command("build_base_model", "--tiny", "--if-missing")
    names = dict(BaseModel.objects.values_list("name", "is_default"))
    assert names == {"tiny-sdxl": True, "tiny-flux": False}
    call_command("build_base_model", "--tiny", "--if-missing")
    assert capsys.readouterr().out.count("already built and registered") == 2

    call_command("build_base_model", "--path", str(tiny_model_dirs["flux"]), "--name", "real")
    assert BaseModel.objects.get(name="real").train_defaults["rank"] == 16


def test_the_style_pack_is_seeded(db):
    styles = list(selectors.styles_active())
    assert len(styles) >= 8
    slugs = {s.slug for s in styles}
    assert {"studio-grey", "black-and-white", "low-key-dramatic", "casual-cafe"} <= slugs
    for style in styles:
        assert "{subject}" in style.prompt_template, style.slug
        assert style.negative_prompt and style.backdrop and style.outfit and style.lighting
        assert set(style.parameters) == {"sdxl", "flux"}
        filled = style_prompt_template(style)
        assert re.findall(r"\{(\w+)\}", filled) == ["subject"], style.slug
    assert Style.objects.filter(slug="studio-grey", active=True).exists()
