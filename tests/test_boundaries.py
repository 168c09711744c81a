"""Integration boundaries: one module each, and the web process never loads torch or dlib."""

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# top-level package → the only place allowed to import it
BOUNDARIES = {
    "stripe": ("apps/orders/stripe_gateway.py",),
    "dlib": ("apps/photos/analysis.py",),
    "torch": ("workers/pipeline/",),
    "diffusers": ("workers/pipeline/",),
    "peft": ("workers/pipeline/",),
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_each_integration_is_imported_by_its_own_module_only():
    offenders = []
    for folder in ("apps", "config", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            for package in _imported_packages(path) & BOUNDARIES.keys():
                if not relative.startswith(BOUNDARIES[package]):
                    offenders.append(f"{relative} imports {package}")
    assert offenders == []


def test_web_process_loads_no_torch_diffusers_or_dlib():
    code = (
        "import sys, django; django.setup();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "import workers.actors;"
        "print(sorted(m for m in ('torch', 'diffusers', 'peft', 'dlib') if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
