"""The vmap-free attention mask that transformers' export integration switches a model to, as one
feature-detected call: `use_export_mask(model)`.

transformers 4.53-4.57 build the sdpa attention mask with `torch.vmap` (masking_utils), which export paths
avoid: `TorchExportableModuleForDecoderOnlyLM`, `convert_and_export_with_cache` and
`export_with_dynamic_cache` (transformers.integrations.executorch) first register
`sdpa_mask_without_vmap` as the mask of a "sdpa_without_vmap" attention implementation (the sdpa attention
function, unchanged) and set the model's `config._attn_implementation` to it. A user exporting their own
decode step with a cache gets none of that; this call does the same switch where the release has it.
Releases without it are left untouched: before 4.53 there is no mask interface (each model builds its
mask itself), and from 5.0 `masking_utils.sdpa_mask` builds the default mask without vmap already.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import asdict, dataclass
from typing import Any

VMAP_FREE = "sdpa_without_vmap"
"""The attention implementation name transformers' export integration registers and switches to."""

SWITCHED, ALREADY, NOT_SDPA = "switched", "already", "not-sdpa"
DEFAULT_IS_VMAP_FREE, NO_MASK_INTERFACE, UNAVAILABLE = "default-is-vmap-free", "no-mask-interface", "unavailable"
AVAILABLE = (SWITCHED, ALREADY, NOT_SDPA)
"""Statuses of a release that has the switch (whether or not this model could take it)."""


@dataclass(frozen=True)
class MaskSwitch:
    """What `use_export_mask` did: `status` (one of the constants above), the model's attention
    implementation before and after the call, and a sentence saying why."""

    status: str
    before: str | None
    after: str | None
    detail: str

    @property
    def available(self) -> bool:
        """True where this transformers has a vmap-free mask a model can be switched to."""
        return self.status in AVAILABLE

    def to_json(self) -> dict[str, Any]:
        """The switch as a JSON-ready dict (`available` included)."""
        return {**asdict(self), "available": self.available}


def _attribute(module_name: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        return None


def _without_switch() -> tuple[str, str]:
    """(status, detail) of a release that has no vmap-free mask to switch to."""
    sdpa_mask = _attribute("transformers.masking_utils", "sdpa_mask")
    if sdpa_mask is not None and "use_vmap" in inspect.signature(sdpa_mask).parameters:
        return DEFAULT_IS_VMAP_FREE, ("transformers.masking_utils.sdpa_mask builds the default mask without vmap "
                                      "(use_vmap=False): nothing to switch")
    if _attribute("transformers.masking_utils", "ALL_MASK_ATTENTION_FUNCTIONS") is None:
        return NO_MASK_INTERFACE, ("transformers has no masking_utils mask interface (each model builds its "
                                   "mask itself): nothing to switch")
    return UNAVAILABLE, "transformers.integrations.executorch has no sdpa_mask_without_vmap"


def use_export_mask(model: Any) -> MaskSwitch:
    """Switch `model` to the vmap-free sdpa mask the way transformers' export integration does, where the
    installed transformers has one; return what was done. Idempotent. A model on another attention
    implementation than sdpa (eager, flash...) is not switched (the vmap-free mask goes with sdpa
    attention, and switching would change its attention function too): status `not-sdpa`. Releases
    without the switch are never changed (status `default-is-vmap-free`, `no-mask-interface` or
    `unavailable`)."""
    config = model.config
    before = getattr(config, "_attn_implementation", None)
    mask = _attribute("transformers.integrations.executorch", "sdpa_mask_without_vmap")
    masks = _attribute("transformers.masking_utils", "ALL_MASK_ATTENTION_FUNCTIONS")
    attentions = _attribute("transformers.modeling_utils", "ALL_ATTENTION_FUNCTIONS")
    if mask is None or masks is None or attentions is None or "sdpa" not in attentions:
        status, detail = _without_switch()
        return MaskSwitch(status, before, before, detail)
    if before not in ("sdpa", VMAP_FREE):
        return MaskSwitch(NOT_SDPA, before, before,
                          f"the model uses the {before!r} attention implementation, not sdpa: not switched")
    masks.register(VMAP_FREE, mask)
    attentions.register(VMAP_FREE, attentions["sdpa"])
    if before == VMAP_FREE:
        return MaskSwitch(ALREADY, before, before, f"the model already uses {VMAP_FREE!r}")
    config._attn_implementation = VMAP_FREE
    return MaskSwitch(SWITCHED, before, VMAP_FREE,
                      f"sdpa attention with transformers.integrations.executorch.sdpa_mask_without_vmap "
                      f"(attention implementation {VMAP_FREE!r})")
