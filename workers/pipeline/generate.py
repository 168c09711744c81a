"""Generation with one resident base pipeline per worker process and LoRA adapters swapped per job.

Adapter swapping, two modes:

* Named adapters (default): each adapter is loaded once under its own name
  (`load_lora_weights(path, adapter_name=...)`), activated with `set_adapters([name])`, and the
  least recently used one is removed with `delete_adapters` when more than `max_adapters` are
  loaded. Returning to a recently used person costs nothing.
* Hotswap (`hotswap=True`): one adapter slot whose weights are replaced in place
  (`enable_lora_hotswap(target_rank=...)` before the first load, then
  `load_lora_weights(..., hotswap=True)`). This is what diffusers offers for a `torch.compile`d
  denoiser: no module is added or removed, so nothing is recompiled. Its constraints: it must be
  enabled before the first adapter is loaded, adapters must target the same modules (ours do:
  train.py's defaults) and have rank <= target_rank, text-encoder LoRAs cannot be hot-swapped
  (ours have none), and there is one slot, so every change of person copies weights. It works on
  CPU and with the tiny models (see tests); an adapter that does not fit the slot (other target
  modules, higher rank) is loaded the ordinary way instead, after dropping the slot, and loses
  the compile-friendly padding.

Named is the default because nothing here is compiled, so hotswap's one real gain does not
apply, while several resident people make repeat jobs free (bench/worker.py: a swap is a
set_adapters call once loaded; the hotswap slot copies weights on every change of person).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from workers.pipeline.base import (
    check_family,
    default_resolution,
    denoiser,
    load_pipeline,
    model_revision,
    resolve_device,
)

logger = logging.getLogger(__name__)

HOTSWAP_SLOT = "hotswap_slot"
# FLUX.1-dev's default embedded guidance; SDXL's usual classifier-free guidance scale.
DEFAULT_GUIDANCE = {"sdxl": 5.0, "flux": 3.5}


def render_prompt(template: str, *, trigger_token: str, class_word: str) -> str:
    """Put the subject ("ohwx person") where the style template says {subject}."""
    return template.replace("{subject}", f"{trigger_token} {class_word}")


@dataclass
class GeneratedSample:
    image: Image.Image
    seed: int
    prompt: str
    negative_prompt: str
    params: dict[str, Any] = field(default_factory=dict)


def _internal_name(name: str) -> str:
    """peft keys adapters in ModuleDicts, where '.' is not allowed; callers may use any string."""
    return "lora_" + hashlib.sha256(name.encode()).hexdigest()[:16]


class Generator:
    """A base pipeline loaded once, with LoRA adapters loaded, swapped and evicted by name.

    One job at a time: `generate` holds a lock, since the active adapter is pipeline-wide state.
    """

    def __init__(
        self,
        model_dir: Path,
        family: str,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        max_adapters: int = 4,
        hotswap: bool = False,
        hotswap_target_rank: int = 16,
    ) -> None:
        device, dtype = resolve_device(device, dtype)
        pipe = load_pipeline(Path(model_dir), family, device=device, dtype=dtype)
        self._setup(
            pipe,
            family,
            model_dir=Path(model_dir),
            base_model_revision=model_revision(Path(model_dir)),
            max_adapters=max_adapters,
            hotswap=hotswap,
            hotswap_target_rank=hotswap_target_rank,
        )

    @classmethod
    def from_pipeline(
        cls,
        pipe,
        family: str,
        *,
        base_model_revision: str = "in-memory",
        max_adapters: int = 4,
        hotswap: bool = False,
        hotswap_target_rank: int = 16,
    ) -> Generator:
        """Wrap a pipeline built in memory (benchmarks with random full-size weights)."""
        generator = cls.__new__(cls)
        generator._setup(
            pipe,
            family,
            model_dir=None,
            base_model_revision=base_model_revision,
            max_adapters=max_adapters,
            hotswap=hotswap,
            hotswap_target_rank=hotswap_target_rank,
        )
        return generator

    def _setup(
        self,
        pipe,
        family: str,
        *,
        model_dir: Path | None,
        base_model_revision: str,
        max_adapters: int,
        hotswap: bool,
        hotswap_target_rank: int,
    ) -> None:
        self.model_dir = model_dir
        self.family = check_family(family)
        self.pipe = pipe
        self.device, self.dtype = pipe.device, denoiser(pipe).dtype
        self.max_adapters = max(1, max_adapters)
        self.hotswap = hotswap
        self.base_model_revision = base_model_revision
        self.pipeline_loads = 1
        self.adapter_loads = 0
        # name -> adapter path, least recently used first
        self._adapters: OrderedDict[str, Path] = OrderedDict()
        self._active: str | None = None
        self._slot_has_adapter = False
        self._lock = threading.RLock()
        if hotswap:
            self.pipe.enable_lora_hotswap(target_rank=hotswap_target_rank)
        # Our adapters carry no text-encoder weights; diffusers warns about that on every load.
        logging.getLogger("diffusers.loaders.lora_base").setLevel(logging.ERROR)

    # -- adapters ---------------------------------------------------------------------------

    @property
    def loaded_adapters(self) -> list[str]:
        """Adapter names held in memory, least recently used first."""
        return list(self._adapters)

    @property
    def active_adapter(self) -> str | None:
        return self._active

    def _pipe_name(self, name: str) -> str:
        return HOTSWAP_SLOT if self.hotswap else _internal_name(name)

    def ensure_adapter(self, adapter_path: Path, name: str) -> None:
        """Make adapter `name` (from `adapter_path`) resident; it becomes the most recently used."""
        adapter_path = Path(adapter_path)
        with self._lock:
            if self._adapters.get(name) == adapter_path:
                self._adapters.move_to_end(name)
                return
            if name in self._adapters:  # same name, new file: replace it
                self._drop(name)
            if self.hotswap:
                self._load_into_slot(adapter_path, name)
            else:
                while len(self._adapters) >= self.max_adapters:
                    self._drop(next(iter(self._adapters)))
                with warnings.catch_warnings():
                    # peft warns whenever a model gets a second adapter; that is the point here.
                    warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                    self.pipe.load_lora_weights(
                        str(adapter_path), adapter_name=self._pipe_name(name)
                    )
            self.adapter_loads += 1
            self._adapters[name] = adapter_path
            # A fresh load becomes active in peft; keep the pipeline's state what we think it is.
            self._apply_active()

    def _load_into_slot(self, adapter_path: Path, name: str) -> None:
        for old in list(self._adapters):
            self._adapters.pop(old)
            if self._active == old:
                self._active = None
        if self._slot_has_adapter:
            try:
                self.pipe.load_lora_weights(
                    str(adapter_path), adapter_name=HOTSWAP_SLOT, hotswap=True
                )
                return
            except (ValueError, RuntimeError, KeyError) as error:
                # e.g. other target modules than the slot's: fall back to an ordinary load.
                logger.warning("hotswap of adapter %s failed (%s); reloading the slot", name, error)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Adapter .* was active")
                    self.pipe.delete_adapters(HOTSWAP_SLOT)
                self._slot_has_adapter = False
        self.pipe.load_lora_weights(str(adapter_path), adapter_name=HOTSWAP_SLOT)
        self._slot_has_adapter = True

    def _drop(self, name: str) -> None:
        self._adapters.pop(name)
        if self._active == name:
            self._active = None
        with warnings.catch_warnings():
            # peft warns when the adapter it deletes was the active one; we re-apply ours next.
            warnings.filterwarnings("ignore", message="Adapter .* was active which is now deleted")
            self.pipe.delete_adapters(self._pipe_name(name))
        if self.hotswap:
            self._slot_has_adapter = False
        self._apply_active()

    def set_active(self, name: str | None) -> None:
        """Use adapter `name` for the next generations; None means the base model alone."""
        with self._lock:
            if name is not None and name not in self._adapters:
                raise KeyError(f"adapter {name!r} is not loaded; call ensure_adapter first")
            self._active = name
            if name is not None:
                self._adapters.move_to_end(name)
            self._apply_active()

    def _apply_active(self) -> None:
        # Always set the whole state: peft enables freshly injected layers on its own.
        if not self._adapters:
            return  # nothing loaded: the pipeline is the base model
        if self._active is None:
            self.pipe.disable_lora()
            return
        self.pipe.set_adapters([self._pipe_name(self._active)])
        self.pipe.enable_lora()

    def use(self, adapter: tuple[Path, str] | None) -> None:
        """Load (if needed) and activate `adapter` = (path, name); None: the base model."""
        with self._lock:
            if adapter is None:
                self.set_active(None)
            else:
                path, name = adapter
                self.ensure_adapter(path, name)
                self.set_active(name)

    # -- generation -------------------------------------------------------------------------

    def _call_kwargs(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        seeds: list[int],
        steps: int,
        guidance: float,
        width: int,
        height: int,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "prompt": [prompt] * len(seeds),
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "width": width,
            "height": height,
            # One CPU generator per image: a seed gives the same starting noise whatever the
            # batch it lands in and whatever the device.
            "generator": [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds],
        }
        if self.family == "sdxl":
            kwargs["negative_prompt"] = [negative_prompt] * len(seeds)
        # FLUX.1-dev is guidance-distilled: `guidance` is its embedded guidance and it has no
        # negative prompt unless "true CFG" (true_cfg_scale > 1, twice the compute) is asked for,
        # which we do not; the negative prompt is recorded but not used.
        return kwargs

    def _params(
        self, *, adapter_name, steps, guidance, width, height, batch_size
    ) -> dict[str, Any]:
        return {
            "family": self.family,
            "base_model_revision": self.base_model_revision,
            "adapter": adapter_name,
            "steps": steps,
            "guidance": guidance,
            "width": width,
            "height": height,
            "batch_size": batch_size,
            "scheduler": type(self.pipe.scheduler).__name__,
            "device": self.device.type,
            "dtype": str(self.dtype).removeprefix("torch."),
            # SDXL uses it for classifier-free guidance, which only runs with guidance > 1.
            "negative_prompt_used": self.family == "sdxl" and guidance > 1,
        }

    def generate(
        self,
        *,
        adapter: tuple[Path, str] | None,
        prompt: str,
        negative_prompt: str,
        seeds: list[int],
        steps: int,
        guidance: float,
        width: int | None,
        height: int | None,
        batch_size: int = 4,
    ) -> list[GeneratedSample]:
        """One image per seed, in seed order, `batch_size` at a time; adapter None: base model."""
        width = width or default_resolution(self.pipe)
        height = height or default_resolution(self.pipe)
        batch_size = max(1, batch_size)
        with self._lock:
            self.use(adapter)
            params = self._params(
                adapter_name=adapter[1] if adapter else None,
                steps=steps,
                guidance=guidance,
                width=width,
                height=height,
                batch_size=batch_size,
            )
            samples: list[GeneratedSample] = []
            for start in range(0, len(seeds), batch_size):
                batch = list(seeds[start : start + batch_size])
                kwargs = self._call_kwargs(
                    prompt=prompt,
                    negative_prompt=negative_prompt,
                    seeds=batch,
                    steps=steps,
                    guidance=guidance,
                    width=width,
                    height=height,
                )
                images = self.pipe(**kwargs).images
                samples += [
                    GeneratedSample(image, seed, prompt, negative_prompt, dict(params))
                    for image, seed in zip(images, batch, strict=True)
                ]
            return samples

    def generate_latents(
        self,
        *,
        adapter: tuple[Path, str] | None,
        prompt: str,
        negative_prompt: str,
        seeds: list[int],
        steps: int,
        guidance: float,
        width: int | None,
        height: int | None,
    ) -> torch.Tensor:
        """Like `generate`, but the final latents (N, C, h, w), scaled as the VAE's training
        latents are, before decoding; for evaluating adapters in latent space."""
        width = width or default_resolution(self.pipe)
        height = height or default_resolution(self.pipe)
        with self._lock:
            self.use(adapter)
            kwargs = self._call_kwargs(
                prompt=prompt,
                negative_prompt=negative_prompt,
                seeds=list(seeds),
                steps=steps,
                guidance=guidance,
                width=width,
                height=height,
            )
            latents = self.pipe(**kwargs, output_type="latent").images
            if self.family == "flux":
                latents = self.pipe._unpack_latents(
                    latents, height, width, self.pipe.vae_scale_factor
                )
            return latents.float().cpu()

    @property
    def denoiser(self) -> torch.nn.Module:
        return denoiser(self.pipe)


_GENERATORS: dict[tuple[str, str], Generator] = {}
_GENERATORS_LOCK = threading.Lock()


def get_generator(model_dir: Path, family: str) -> Generator:
    """The process's Generator for this base model, loaded on first use and kept."""
    key = (str(Path(model_dir).resolve()), family)
    with _GENERATORS_LOCK:
        generator = _GENERATORS.get(key)
        if generator is None:
            generator = _GENERATORS[key] = Generator(Path(model_dir), family)
        return generator


def clear_generators() -> None:
    """Forget the cached Generators (tests; freeing a GPU)."""
    with _GENERATORS_LOCK:
        _GENERATORS.clear()
