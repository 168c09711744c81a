"""Device choice and loading of base models (diffusers directories on local disk, never a hub)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Nothing in this package may reach a model hub; set before diffusers/transformers are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402

FAMILIES = ("sdxl", "flux")
_PIPELINE_CLASS_NAMES = {"StableDiffusionXLPipeline": "sdxl", "FluxPipeline": "flux"}


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA with bf16 when present, else CPU with float32."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def resolve_device(
    device: Any = None, dtype: torch.dtype | None = None
) -> tuple[torch.device, torch.dtype]:
    """Fill in whichever of device/dtype the caller left out from `pick_device()`."""
    default_device, default_dtype = pick_device()
    resolved_device = torch.device(device) if device is not None else default_device
    if dtype is None:
        dtype = default_dtype if resolved_device.type == default_device.type else torch.float32
    return resolved_device, dtype


def model_revision(model_dir: Path) -> str:
    """sha256 of model_index.json: identifies the base model a LoRA was trained against."""
    return hashlib.sha256((Path(model_dir) / "model_index.json").read_bytes()).hexdigest()


def detect_family(model_dir: Path) -> str:
    """'sdxl' or 'flux', from the pipeline class named in model_index.json."""
    index = json.loads((Path(model_dir) / "model_index.json").read_text())
    class_name = index.get("_class_name", "")
    try:
        return _PIPELINE_CLASS_NAMES[class_name]
    except KeyError:
        raise ValueError(f"{model_dir}: unsupported pipeline class {class_name!r}") from None


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")
    return family


def pipeline_class(family: str) -> type:
    from diffusers import FluxPipeline, StableDiffusionXLPipeline

    return {"sdxl": StableDiffusionXLPipeline, "flux": FluxPipeline}[check_family(family)]


def quiet_loading() -> None:
    """Worker logs get ids and progress, not per-shard loading bars."""
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def _dtype_argument() -> str:
    """diffusers renamed from_pretrained's `torch_dtype` to `dtype` (the old name warns)."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def load_pipeline(
    model_dir: Path, family: str, device: Any = None, dtype: torch.dtype | None = None
):
    """Load a StableDiffusionXLPipeline/FluxPipeline from local files only and move it to device."""
    device, dtype = resolve_device(device, dtype)
    cls = pipeline_class(family)
    quiet_loading()
    kwargs: dict[str, Any] = {_dtype_argument(): dtype, "local_files_only": True}
    if family == "sdxl":
        # The invisible-watermark package is not a dependency; do not let diffusers look for it.
        kwargs["add_watermarker"] = False
    pipe = cls.from_pretrained(str(model_dir), **kwargs)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def denoiser(pipe):
    """The component that LoRA adapters attach to: the UNet (SDXL) or the transformer (FLUX)."""
    return pipe.unet if hasattr(pipe, "unet") and pipe.unet is not None else pipe.transformer


def default_resolution(pipe) -> int:
    """The pipeline's own default image side in pixels (1024 for SDXL base and FLUX.1)."""
    return int(pipe.default_sample_size * pipe.vae_scale_factor)
