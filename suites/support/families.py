"""The model-family axis: a tiny random model of each family users export, built from that family's own config
class (its defaults scaled down by compat.check.tiny_config, as `kvcc check --model-type` builds one; nothing
downloaded), and the n/a reasons of a release that has no such family or no StaticCache for it.

One model per family and process: every route of the family suite reads it and none changes it (the wrapper
route configures a copy).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import pytest
import torch
import transformers

from compat.check import tiny_config, tiny_model
from compat.tiny import static_cache
from kvmatrix.record.uses import FAMILY_TITLES
from kvmatrix.run.process.attribution import eager

FAMILIES = list(FAMILY_TITLES)
"""The families the family suite runs, by transformers' model_type (decoder-only causal LMs)."""


def _config_class(model_type: str) -> Any:
    """The config class of `model_type` in this release; `n/a` (a skip) where the release has no such family."""
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        pytest.skip(f"n/a: transformers {transformers.__version__} has no {model_type} family")
    return CONFIG_MAPPING[model_type]


@cache
def family_model(model_type: str) -> torch.nn.Module:
    """The tiny causal LM of `model_type` (shared: callers must not change it); `n/a` where the release has no
    such family; a setup failure where its config or model cannot be built."""
    config_class = _config_class(model_type)
    with eager(f"building a tiny {model_type} model from {config_class.__name__}'s defaults"):
        small, _ = tiny_config(config_class())
        return tiny_model(small)


def static_cache_family(model_type: str) -> torch.nn.Module:
    """A copy of the family's tiny model, for routes that need a StaticCache; `n/a` where this release's class
    says it does not support one (`_supports_static_cache`, which releases from 4.54 on no longer have)."""
    model = family_model(model_type)
    if getattr(model, "_supports_static_cache", True) is False:
        pytest.skip(f"n/a: {type(model).__name__} does not support a StaticCache in transformers "
                    f"{transformers.__version__} (_supports_static_cache is False)")
    return copy.deepcopy(model)


def family_static_cache(model: torch.nn.Module) -> Any:
    """An empty static cache of the class `generate()` builds for the family's `cache_implementation` where
    its config names one (Gemma 2 before 4.47: "hybrid", a HybridCache), else a StaticCache; eager decoding
    needs it, as the family's sliding layers are masked by its window."""
    from transformers.generation import utils as generation

    chosen = getattr(model.config, "cache_implementation", None)
    classes = getattr(generation, "NEED_SETUP_CACHE_CLASSES_MAPPING", None) or {}
    return static_cache(model.config, cls=classes.get(chosen))
