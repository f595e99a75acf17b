"""compat.use_export_mask: the vmap-free mask switch of transformers' export integration, where the release
has it, and nothing changed where it has not. Each case runs in a fresh interpreter, because the attention
registries it writes to are process-global."""

from __future__ import annotations

from fresh_interpreter import run_fresh

SNAPSHOT = """
    import importlib, json
    def registries():
        found = {}
        for module, name in (("transformers.masking_utils", "ALL_MASK_ATTENTION_FUNCTIONS"),
                             ("transformers.modeling_utils", "ALL_ATTENTION_FUNCTIONS")):
            try:
                registry = getattr(importlib.import_module(module), name, None)
            except ImportError:
                registry = None
            found[name] = None if registry is None else {key: getattr(registry[key], "__qualname__", repr(registry[key]))
                                                        for key in registry}
        return found
"""


def test_the_switch_is_the_one_transformers_export_wrapper_makes_and_a_second_call_changes_nothing() -> None:
    result = run_fresh(SNAPSHOT + """
    import compat, torch
    from compat.tiny import tiny_llama
    model = tiny_llama()
    before = registries()
    first = compat.use_export_mask(model).to_json()
    after_first = (registries(), model.config._attn_implementation)
    second = compat.use_export_mask(model).to_json()
    after_second = (registries(), model.config._attn_implementation)
    wrapper = None
    if first["available"]:
        from transformers.integrations import executorch
        from suites.support.wrapping import _sizes, static_cache_model
        theirs = static_cache_model()
        module = executorch.TorchExportableModuleForDecoderOnlyLM
        module(theirs, **_sizes(module.__init__))
        wrapper = (registries(), theirs.config._attn_implementation)
    print(json.dumps({"before": before, "first": first, "second": second, "after_first": after_first,
                      "after_second": after_second, "wrapper": wrapper}))
    """)
    first, second = result["first"], result["second"]
    if not first["available"]:
        assert first["status"] in ("default-is-vmap-free", "no-mask-interface", "unavailable"), first
        assert first["before"] == first["after"] and first["detail"]
        assert result["after_first"][0] == result["before"] == result["after_second"][0]
        assert second == first
        return
    assert (first["status"], first["before"], first["after"]) == ("switched", "sdpa", "sdpa_without_vmap")
    registries_after, implementation = result["after_first"]
    assert implementation == "sdpa_without_vmap"
    assert registries_after["ALL_MASK_ATTENTION_FUNCTIONS"]["sdpa_without_vmap"] == "sdpa_mask_without_vmap"
    assert (registries_after["ALL_ATTENTION_FUNCTIONS"]["sdpa_without_vmap"]
            == registries_after["ALL_ATTENTION_FUNCTIONS"]["sdpa"])
    assert result["wrapper"] == result["after_first"], "transformers' own wrapper switches differently"
    assert (second["status"], second["before"], second["after"]) == ("already", "sdpa_without_vmap",
                                                                     "sdpa_without_vmap")
    assert result["after_second"] == result["after_first"]


def test_a_switched_model_decodes_as_the_default_mask_does() -> None:
    result = run_fresh("""
    import json, compat, torch
    from compat.tiny import DecodeStep, prompt_ids, tiny_llama
    from suites.support.models import clone, prefilled
    from suites.support.exporting import new_tokens
    default, switched = tiny_llama(), tiny_llama()
    status = compat.use_export_mask(switched).status
    ids, position = new_tokens(2, seed=2)
    with torch.no_grad():
        answers = [DecodeStep(model)(ids, prefilled(model, kind), position)[0].tolist()
                   for model in (default, switched) for kind in ("DynamicCache", "StaticCache")]
    print(json.dumps({"status": status, "answers": answers}))
    """)
    dynamic_default, static_default, dynamic_switched, static_switched = result["answers"]
    assert dynamic_switched == dynamic_default and static_switched == static_default, result["status"]


def test_a_model_on_another_attention_implementation_is_left_as_it_is() -> None:
    result = run_fresh(SNAPSHOT + """
    import compat, transformers
    from compat.tiny import TINY
    config = transformers.LlamaConfig(**TINY)
    config._attn_implementation = "eager"
    model = transformers.LlamaForCausalLM(config).eval()
    before = registries()
    switch = compat.use_export_mask(model).to_json()
    print(json.dumps({"switch": switch, "same": registries() == before,
                      "implementation": model.config._attn_implementation}))
    """)
    switch = result["switch"]
    assert result["implementation"] == "eager" and switch["before"] == switch["after"] == "eager"
    assert switch["status"] in ("not-sdpa", "default-is-vmap-free", "no-mask-interface", "unavailable"), switch
    assert result["same"]
