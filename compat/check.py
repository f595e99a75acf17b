"""`kvcc check`: on your own machine, what works with the torch and transformers you have installed, and what
must you call for it?

Per use it runs the routes the matrix runs, on a tiny random Llama (a few seconds to a minute on a laptop
CPU): the pytree round trip of DynamicCache and StaticCache; a decode step exported strict and non-strict
with each, on the default attention mask and on the vmap-free one (`compat.use_export_mask(model)`);
`torch.export.save`/`load` of it; transformers' own export wrapper (the route ExecuTorch takes); and a
torch.compile'd StaticCache decode loop that must not recompile. Every program runs on a cache filled from
another prompt and is compared with eager, so one that baked its cache in cannot pass. Routes are tried
cheapest first: transformers alone (what it registers at import and its own export helpers, as in the
matrix: compat.transformers_own), then the other variants, then inside `compat.registered()`. Per use it
prints the answer on your pair with the exact calls that made it work (`compat.register()`,
`compat.use_export_mask(model)`, `strict=...`), the errors of the routes tried before, what the published
matrix says for your pair, and only where it does not work here, the nearest published pair where it works.
The answers' words and meanings come from the bundled answers (`compat/verified.json`, written from the
published reports/uses.json; `--matrix FILE` for another). `--json` prints the same as JSON. The exit status
is 0 when every use works here (by some route), 1 otherwise, 2 on bad arguments. `--config PATH` (your model's
config.json) or `--model-type NAME` (that family's config class defaults) checks the same routes on a tiny
random model of your own architecture instead (`tiny_config`: scaled down, nothing downloaded); the matrix's
answers stay those of its tiny Llama, and a family your transformers lacks, or one that is not a causal LM it
can build, is refused as a bad argument.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

WORKS, WITH_COMPAT, WITH_MASK, BROKEN = "works", "works with compat", "works with the vmap-free mask", "broken"
COMPAT_CALL, MASK_CALL = "compat.register()", "compat.use_export_mask(model)"
VERIFIED_FORMAT = "kvcc-verified/2"
PROMPT, OTHER_PROMPT, MAX_CACHE_LEN, COMPILED_STEPS = 1, 11, 16, 4


@dataclass(frozen=True)
class Route:
    """One way to do a use apart from the registration: what it is called, the calls it needs beyond
    transformers' defaults, and the check that takes it (given a fresh decode step of the tiny model)."""

    title: str
    calls: tuple[str, ...]
    run: Callable[[Any], None]


@dataclass(frozen=True)
class Use:
    """A use kvcc checks: its key (the matrix's use of that name), title and routes, cheapest first."""

    key: str
    title: str
    routes: tuple[Route, ...]


@dataclass
class Outcome:
    """One use's result here: its answer, the route that worked with every call it needs, the errors of the
    routes tried before it, and what the published matrix says."""

    key: str
    title: str
    answer: str
    route: str | None = None
    requires: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    matrix: str | None = None
    nearest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The outcome as `--json` prints it."""
        return {"key": self.key, "title": self.title, "answer": self.answer, "route": self.route,
                "requires": self.requires, "errors": self.errors, "matrix_says": self.matrix,
                "nearest_verified": self.nearest}


# --- the tiny model and its caches ------------------------------------------------------------------------

def _step(config: Any = None) -> Any:
    """A fresh decode step of the tiny Llama the matrix runs (compat.tiny), or of a tiny model built from
    `config` (`tiny_config`'s): (input_ids, cache, cache_position) -> (logits, updated cache), its cache
    returned, which strict export must rebuild."""
    from .tiny import DecodeStep, tiny_llama

    return DecodeStep(tiny_llama() if config is None else tiny_model(config))


# --- a tiny model of the user's own architecture (--config / --model-type) ----------------------------------

MAX_TINY_LAYERS = 8
"""A family whose layer pattern repeats within this many layers keeps its first repeat whole (Gemma 3: five
sliding layers, then a full one); a longer one keeps one layer of each type, in order."""
NOT_LAYER_LISTS = ("architectures", "bos_token_id", "eos_token_id", "pad_token_id")
MOE_SIZES = {"num_experts": 4, "num_local_experts": 4, "n_routed_experts": 4, "moe_intermediate_size": 64,
             "shared_expert_intermediate_size": 64}


class Refused(ValueError):
    """A model kvcc cannot check: said in one line, exit status 2, as other bad arguments."""


@dataclass
class ModelChoice:
    """What `--config PATH` or `--model-type NAME` asked for: a config dict read from PATH (read before torch
    and transformers are looked for) or a model type whose config class defaults are taken."""

    model_type: str
    config: dict[str, Any] | None = None
    path: Path | None = None

    @classmethod
    def read(cls, path: Path) -> ModelChoice:
        """The config.json at `path`; ValueError naming it when it cannot be read, is not JSON or has no
        model_type."""
        data = read_json(path.read_text, path)
        if not isinstance(data, dict) or not isinstance(data.get("model_type"), str) or not data["model_type"]:
            raise ValueError(f"{path}: not a model config: no model_type naming its family")
        return cls(data["model_type"], data, path)


def _pick_layers(config: Any, layers: int) -> list[int]:
    """The layers the tiny model keeps: the shortest prefix holding every layer type of `layer_types` (at
    least 2), so a hybrid family stays hybrid in its own pattern; where that is longer than MAX_TINY_LAYERS,
    the first layer of each type. Releases without `layer_types` decide sliding layers by index (Gemma 2 every
    other one, Gemma 3 by its sliding_window_pattern): the prefix of one pattern."""
    kinds = getattr(config, "layer_types", None)
    if isinstance(kinds, list) and len(kinds) == layers and layers:
        wanted = set(kinds)
        count = next(count for count in range(1, layers + 1) if set(kinds[:count]) == wanted)
        if count <= MAX_TINY_LAYERS:
            return list(range(min(layers, max(count, 2))))
        return sorted(kinds.index(kind) for kind in wanted)
    pattern = getattr(config, "sliding_window_pattern", None) or getattr(config, "_sliding_window_pattern", None)
    count = pattern if isinstance(pattern, int) and 2 <= pattern <= MAX_TINY_LAYERS else 2
    return list(range(min(layers, count)))


def tiny_config(config: Any) -> tuple[Any, dict[str, list[Any]]]:
    """A copy of `config` (a transformers config) scaled down to the tiny Llama's sizes (compat.tiny.TINY), and
    what changed ({attribute: [from, to]}): hidden size 32, 4 heads of 8, the KV heads in the family's
    grouping ratio (32 of 32 stays multi-head: 4; 8 of 4 becomes 4 of 2; 32 of 8 becomes 4 of 1), intermediate
    size 64 (MoE: at most 4 experts, 2 per token, of 64), vocab 128 (special token ids beyond it dropped), the
    layers of `_pick_layers` with every per-layer list (`layer_types`...) cut the same way, a sliding window of
    at most the prompt length, so the decode step is the first token to slide out of it, and float32. The
    result is rebuilt from its dict by its config class, so the family's own checks and derived values apply."""
    from .tiny import PROMPT_LEN, TINY

    small = copy.deepcopy(config)
    before = small.to_dict()
    layers = getattr(small, "num_hidden_layers", None)
    if isinstance(layers, int):
        keep = _pick_layers(small, layers)
        for name, value in list(vars(small).items()):
            if isinstance(value, list) and len(value) == layers and name not in NOT_LAYER_LISTS:
                setattr(small, name, [value[index] for index in keep])
        small.num_hidden_layers = len(keep)
        kinds = getattr(small, "layer_types", None)
        window_layers = getattr(small, "max_window_layers", None)  # Qwen 2/3: layers from there on slide
        if isinstance(window_layers, int):
            small.max_window_layers = (kinds.index("sliding_attention") if isinstance(kinds, list)
                                       and "sliding_attention" in kinds else
                                       min(window_layers, len(keep) - 1) if window_layers < layers else len(keep))
    heads = getattr(small, "num_attention_heads", None)
    if isinstance(heads, int) and heads > 0:
        small.num_attention_heads = TINY["num_attention_heads"]
        kv_heads = getattr(small, "num_key_value_heads", None)
        if isinstance(kv_heads, int) and kv_heads > 0:
            grouped = max(1, TINY["num_attention_heads"] * kv_heads // heads)
            while TINY["num_attention_heads"] % grouped:
                grouped -= 1
            small.num_key_value_heads = grouped
    head_dim = TINY["hidden_size"] // TINY["num_attention_heads"]
    if isinstance(getattr(small, "head_dim", None), int):
        if getattr(small, "query_pre_attn_scalar", None) == small.head_dim:  # Gemma: scales by head_dim
            small.query_pre_attn_scalar = head_dim
        small.head_dim = head_dim
    for name in ("hidden_size", "intermediate_size", "vocab_size"):
        if isinstance(getattr(small, name, None), int):
            setattr(small, name, TINY[name])
    experts = None
    for name, size in MOE_SIZES.items():
        if isinstance(getattr(small, name, None), int) and getattr(small, name) > 0:
            setattr(small, name, min(getattr(small, name), size))
            experts = getattr(small, name) if name in ("num_experts", "num_local_experts", "n_routed_experts") \
                else experts
    if isinstance(getattr(small, "num_experts_per_tok", None), int):
        small.num_experts_per_tok = min(small.num_experts_per_tok, 2, experts or 2)
    window = getattr(small, "sliding_window", None)
    if isinstance(window, int) and window > PROMPT_LEN:
        small.sliding_window = PROMPT_LEN
    if not getattr(small, "rope_scaling", None) and isinstance(getattr(small, "max_position_embeddings", None), int):
        small.max_position_embeddings = min(small.max_position_embeddings, TINY["max_position_embeddings"])
    for name in ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id"):
        value = getattr(small, name, None)
        if isinstance(value, int) and value >= TINY["vocab_size"]:
            setattr(small, name, None)
        elif isinstance(value, list):
            setattr(small, name, [token for token in value if token < TINY["vocab_size"]] or None)
    for name in ("torch_dtype", "dtype"):  # a config.json's bfloat16 would build a model the caches don't match
        if name in vars(small):
            setattr(small, name, None)
    vars(small).pop("quantization_config", None)
    small = type(small).from_dict(small.to_dict())
    after = small.to_dict()
    scaled = {name: [before.get(name), value] for name, value in after.items()
              if before.get(name) != value and not isinstance(value, (list, dict))}
    return small, scaled


def resolve_model(choice: ModelChoice) -> tuple[Any, dict[str, Any]]:
    """The tiny config to check for `choice` and what `--json` says of its model (type, class, parameters,
    layer types, what was scaled); Refused, in one line, for a family the installed transformers lacks, a config
    it cannot read, or one that is not a causal LM it can build. A composite config (a vision-language model)
    is checked on its text model: its decoder is what holds the KV cache."""
    import torch
    import transformers
    from transformers import CONFIG_MAPPING, AutoModelForCausalLM

    name = choice.model_type
    if name not in CONFIG_MAPPING:
        raise Refused(f"model type {name!r}: transformers {transformers.__version__} has no such family")
    try:
        config = CONFIG_MAPPING[name].from_dict(choice.config) if choice.config is not None else \
            CONFIG_MAPPING[name]()
    except Exception as exc:  # the family's own validation of the user's config
        raise Refused(f"model type {name!r}: transformers cannot read this config: {_error_line(exc)}") from None
    text_of = None
    try:
        text = config.get_text_config(decoder=True)
    except (TypeError, ValueError):  # releases without the keyword, or with more than one text config
        text = config
    if text is not config and type(text) in AutoModelForCausalLM._model_mapping:
        config, text_of = text, name
    if type(config) not in AutoModelForCausalLM._model_mapping:
        raise Refused(f"model type {config.model_type!r}: not a causal LM transformers can build "
                      "(AutoModelForCausalLM has no class for it)")
    try:
        small, scaled = tiny_config(config)
        model = tiny_model(small)
    except Exception as exc:
        raise Refused(f"model type {config.model_type!r}: transformers cannot build a tiny model of it: "
                      f"{_error_line(exc)}") from None
    with torch.no_grad():
        parameters = sum(parameter.numel() for parameter in model.parameters())
    return small, {"model_type": small.model_type, "text_model_of": text_of, "class": type(model).__name__,
                   "parameters": parameters, "config": str(choice.path) if choice.path else None,
                   "layer_types": getattr(small, "layer_types", None),
                   "sliding_window": getattr(small, "sliding_window", None), "scaled": scaled}


def tiny_model(config: Any) -> Any:
    """A random causal LM of `config`'s family in eval mode, seeded as compat.tiny's tiny Llama."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(copy.deepcopy(config)).eval()


def _ids(seed: int, length: int) -> Any:
    from .tiny import prompt_ids

    return prompt_ids(length, seed=seed)


def _prefilled(step: Any, kind: str, seed: int) -> Any:
    from .tiny import empty_cache, fill

    return fill(step.model, empty_cache(kind, step.model.config, max_cache_len=MAX_CACHE_LEN), seed=seed)


# --- the checks ---------------------------------------------------------------------------------------------

def _roundtrip(step: Any, kind: str) -> None:
    import torch

    from compat import pytree_api as _pytree

    cache = _prefilled(step, kind, PROMPT)
    leaves, spec = _pytree.tree_flatten(cache)
    if not leaves or not all(isinstance(leaf, torch.Tensor) for leaf in leaves):
        raise AssertionError(f"{kind} is not a pytree node: it flattens to itself")
    again = _pytree.tree_unflatten(leaves, spec)
    if type(again) is not type(cache) or not all(
            torch.equal(a, b) for a, b in zip(_pytree.tree_leaves(again), leaves, strict=True)):
        raise AssertionError(f"{kind} does not come back equal from tree_unflatten")


def _export(step: Any, kind: str, strict: bool) -> Any:
    import torch

    with torch.no_grad():
        return torch.export.export(step, (_ids(PROMPT + 1, 1), _prefilled(step, kind, PROMPT), torch.tensor([4])),
                                   strict=strict)


def _same_as_eager(step: Any, kind: str, run: Callable[..., Any], eager_attention: str | None = None) -> None:
    """Run `run` on a cache filled from the prompt it was exported with, then on one filled from another prompt
    (one that baked its cache in fails there), and compare each with eager on a copy of that cache; eager on
    the attention implementation `eager_attention` where given (the model's own before the vmap-free mask: that
    mask run eagerly is not a reference, see `_export_check`)."""
    import torch

    token, position = _ids(PROMPT + 1, 1), torch.tensor([4])
    config = step.model.config
    switched = config._attn_implementation
    for seed, where in ((PROMPT, "even on the cache it was exported with"),
                        (OTHER_PROMPT, "on another cache (its cache baked in?)")):
        cache = _prefilled(step, kind, seed)
        with torch.no_grad():
            try:
                if eager_attention is not None:
                    config._attn_implementation = eager_attention
                expected = step(token, copy.deepcopy(cache), position)[0]
            finally:
                config._attn_implementation = switched
            got = run(token, cache, position)[0]
        if not torch.allclose(got, expected, atol=1e-5):
            raise AssertionError(f"the program's answer differs from eager {where}")


def _export_check(step: Any, kind: str, strict: bool, mask: bool) -> None:
    """The decode step exported with `kind`, on the vmap-free mask where `mask`, gives eager's answer on the
    default mask: transformers 4.53-4.57's vmap-free mask run eagerly skips the mask on a cache longer than a
    sliding window (it hands its window to `_ignore_causal_mask_sdpa` where that takes kv_offset) and attends
    past the window, so it cannot be the reference for a sliding-window family."""
    before = None
    if mask:
        import compat

        switch = compat.use_export_mask(step.model)
        if not switch.available:
            raise AssertionError(f"no vmap-free mask here: {switch.detail}")
        before = switch.before
    _same_as_eager(step, kind, _export(step, kind, strict).module(), eager_attention=before)


def _saveload_check(step: Any, kind: str) -> None:
    import torch

    buffer = io.BytesIO()
    torch.export.save(_export(step, kind, strict=False), buffer)
    buffer.seek(0)
    # torch 2.13's loader logs a malformed warning (a format string without its argument) on every load
    # of a program whose example inputs hold a cache; it says nothing about the load, so keep it quiet.
    serde_log = logging.getLogger("torch._export.serde.serialize")
    level = serde_log.level
    serde_log.setLevel(logging.ERROR)
    try:
        loaded = torch.export.load(buffer)
    finally:
        serde_log.setLevel(level)
    _same_as_eager(step, kind, loaded.module())


def _wrapper_check(step: Any, strict: bool) -> None:
    """transformers' own export route (its wrapper holds a StaticCache inside the program, as ExecuTorch runs
    it): the exported program decodes a prompt token by token like the wrapper run eagerly."""
    import inspect

    import torch
    from transformers import GenerationConfig
    from transformers.integrations import executorch

    model = step.model
    model.generation_config = GenerationConfig(use_cache=True, cache_implementation="static",
                                               cache_config={"batch_size": 1, "max_cache_len": MAX_CACHE_LEN})
    wrapper_class = getattr(executorch, "TorchExportableModuleForDecoderOnlyLM", None)
    if wrapper_class is None:
        raise AssertionError("this transformers has no TorchExportableModuleForDecoderOnlyLM")
    sizes = {name: value for name, value in {"max_batch_size": 1, "batch_size": 1, "max_cache_len": MAX_CACHE_LEN}
             .items() if name in inspect.signature(wrapper_class.__init__).parameters}  # renamed across releases
    with torch.no_grad():
        exported = wrapper_class(model, **sizes).export(input_ids=_ids(PROMPT, 1), cache_position=torch.tensor([0]),
                                                        strict=strict)
        program, (example_args, example_kwargs) = exported.module(), exported.example_inputs
        eager = wrapper_class(model, **sizes)
        for position, token in enumerate(_ids(OTHER_PROMPT, 4)[0]):
            values = {"input_ids": token.view(1, 1), "cache_position": torch.tensor([position])}
            # releases export (input_ids, cache_position) positionally or as keywords: call it as exported
            got = program(*list(values.values())[: len(example_args)], **{k: values[k] for k in example_kwargs})
            if not torch.allclose(got, eager(**values), atol=1e-5):
                raise AssertionError(f"the exported wrapper differs from eager at step {position}")


def _compile_check(step: Any) -> None:
    """A StaticCache decode loop compiled once (dynamo's counters; the cheap aot_eager backend: recompiles are
    decided by dynamo's guards, not the backend) gives eager's logits at every step."""
    import torch
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(step, backend="aot_eager")
    cache, reference = _prefilled(step, "StaticCache", PROMPT), _prefilled(step, "StaticCache", PROMPT)
    graphs = []
    with torch.no_grad():
        for number in range(COMPILED_STEPS):
            token, position = _ids(OTHER_PROMPT + number, 1), torch.tensor([4 + number])
            if not torch.allclose(compiled(token, cache, position)[0], step(token, reference, position)[0], atol=1e-5):
                raise AssertionError(f"the compiled loop differs from eager at step {number}")
            graphs.append(int(counters["stats"]["unique_graphs"]))
    if graphs[-1] != graphs[0]:
        raise AssertionError(f"recompiled after the first step: graphs per step {graphs}")


def uses() -> list[Use]:
    """Every use kvcc checks, with its routes cheapest first; a key that is also a use of the matrix shares
    its name."""
    found = []
    for kind in ("DynamicCache", "StaticCache"):
        low = kind.lower()
        found.append(Use(f"pytree-{low}", f"pytree flatten/unflatten, {kind}",
                         (Route("its own", (), lambda step, kind=kind: _roundtrip(step, kind)),)))
        for strict in (True, False):
            mode = "strict" if strict else "non-strict"
            found.append(Use(f"export-{low}-{mode}-static", f"torch.export {kind}, {mode}, static length", tuple(
                Route(title, (f"strict={strict}", *calls),
                      lambda step, kind=kind, strict=strict, mask=mask: _export_check(step, kind, strict, mask))
                for title, calls, mask in (("default mask", (), False), ("vmap-free mask", (MASK_CALL,), True)))))
        found.append(Use(f"saveload-{low}", f"torch.export.save / load, {kind}",
                         (Route("its own", (), lambda step, kind=kind: _saveload_check(step, kind)),)))
    found.append(Use("wrapper", "transformers' export wrapper (the route ExecuTorch takes)", tuple(
        Route(f"TorchExportableModuleForDecoderOnlyLM, {'strict' if strict else 'non-strict'}",
              (f"strict={strict}",), lambda step, strict=strict: _wrapper_check(step, strict))
        for strict in (True, False))))
    found.append(Use("compile-staticcache", "torch.compile a StaticCache decode loop without recompiles",
                     (Route("aot_eager", (), _compile_check),)))
    return found


def _error_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


def _tries(use: Use) -> list[tuple[Route, bool]]:
    """(route, inside compat.registered()) in the order kvcc tries them: fewest of this project's calls first
    (compat.register(), the vmap-free mask), then transformers alone before compat, then the use's order: the
    matrix's order of preference (docs/uses.md)."""
    tried = [(route, with_compat) for with_compat in (False, True) for route in use.routes]
    return sorted(tried, key=lambda pair: (pair[1] + (MASK_CALL in pair[0].calls), pair[1]))


def check_use(use: Use, config: Any = None) -> Outcome:
    """`use` here: the first route of `_tries` that works, each on a fresh tiny model (the mask changes it): the
    tiny Llama, or one built from `config`."""
    import compat
    from compat.transformers_own import register_transformers_own

    errors: dict[str, str] = {}
    for route, with_compat in _tries(use):
        step = _step(config)
        register_transformers_own(step.model)
        label = f"{route.title}, {COMPAT_CALL if with_compat else 'transformers alone'}"
        try:
            if with_compat:
                with compat.registered():
                    route.run(step)
            else:
                route.run(step)
        except Exception as exc:  # any failure of the tool under test is an answer, never a crash of kvcc
            errors[label] = _error_line(exc)
            continue
        requires = [*([COMPAT_CALL] if with_compat else []), *route.calls]
        answer = WITH_MASK if MASK_CALL in requires else WITH_COMPAT if with_compat else WORKS
        return Outcome(use.key, use.title, answer, label, requires, errors)
    return Outcome(use.key, use.title, BROKEN, errors=errors)


def run_checks(config: Any = None) -> list[Outcome]:
    """Every use's outcome on the installed pair, on the tiny Llama or a tiny model built from `config`."""
    return [check_use(use, config) for use in uses()]


# --- the published matrix -----------------------------------------------------------------------------------

def installed_pair() -> tuple[str, str]:
    """(transformers, torch) versions installed here (torch's local tag, such as +cpu, dropped)."""
    return metadata.version("transformers"), metadata.version("torch").split("+")[0]


def read_json(read_text: Callable[..., str], source: Path | str) -> Any:
    """The JSON that `read_text(encoding="utf-8")` reads; ValueError naming `source` with one line saying why
    it cannot be read (missing, not UTF-8, not JSON, nested too deeply), never a traceback."""
    try:
        return json.loads(read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"{source}: nested too deeply to read") from None


def load_verified(path: Path | None) -> dict[str, Any]:
    """The bundled answers (or the file `path`): the `kvcc-verified/2` JSON of kvmatrix.render.verified;
    ValueError naming the file when it cannot be read, is not JSON or not of that format."""
    source = path or "the bundled verified.json"
    data = read_json(path.read_text if path else resources.files("compat").joinpath("verified.json").read_text,
                     source)
    if not isinstance(data, dict) or data.get("format") != VERIFIED_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{source}: not a {VERIFIED_FORMAT} file: format {found!r}")
    return data


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def _said(found: dict[str, Any]) -> str:
    """An answer of verified.json in words: the answer, what its route requires, or why it does not work."""
    text = found["answer"]
    if found.get("requires"):
        text += " (" + " + ".join(found["requires"]) + ")"
    if found.get("cause") and found["answer"] != WORKS and not found.get("requires"):
        text += f" ({found['cause']})"
    return text


def annotate(outcomes: list[Outcome], verified: dict[str, Any], pair: tuple[str, str],
             other_model: bool = False) -> None:
    """Add what the matrix says for this pair and, for a use that does not work here, the nearest verified
    pair where it works (same transformers release first, then the closest release, newest torch first). The
    matrix's answers are its tiny Llama's: checking `other_model` (--config), this pair is never the nearest."""
    transformers = pair[0]
    working_words = set(verified.get("working", ()))
    cells = verified["cells"]
    here = next((cell for cell in cells if (cell["transformers"], cell["torch"]) == pair), None)
    for outcome in outcomes:
        if here is not None and outcome.key in here["answers"]:
            outcome.matrix = _said(here["answers"][outcome.key])
        working = [cell for cell in cells if cell["answers"].get(outcome.key, {}).get("answer") in working_words
                   and not (other_model and cell is here)]
        if outcome.answer == BROKEN and working:
            def distance(cell: dict[str, Any]) -> tuple[Any, ...]:
                gap = [abs(a - b) for a, b in zip(_version_key(cell["transformers"]), _version_key(transformers),
                                                  strict=False)]
                return (cell["transformers"] != transformers, gap, [-n for n in _version_key(cell["torch"])])
            best = min(working, key=distance)
            outcome.nearest = f"{best['id']}: {_said(best['answers'][outcome.key])}"


def report(outcomes: list[Outcome], pair: tuple[str, str], listed: bool, meanings: dict[str, str],
           model: dict[str, Any] | None = None) -> str:
    """The human-readable report: per use, the answer here and what to call, then what else was seen; with
    `model` (`resolve_model`'s), the model checked first, and the matrix's answers said to be its tiny Llama's."""
    head = f"transformers {pair[0]}, torch {pair[1]}: " + (
        "a pair of the published matrix" if listed else "not in the published matrix")
    lines = [head]
    llama = ""
    if model is not None:
        llama = " (its tiny Llama)"
        source = f"the config {model['config']}" if model["config"] else "its config class defaults"
        text_of = f", the text model of {model['text_model_of']}" if model["text_model_of"] else ""
        lines.append(f"model checked: {model['model_type']}{text_of}: a random {model['class']} of "
                     f"{model['parameters']} parameters scaled down from {source} (" + ", ".join(
                         f"{name} {was} -> {now}" for name, (was, now) in model["scaled"].items()) + ")")
        if model["layer_types"] and len(set(model["layer_types"])) > 1:
            lines.append(f"    layer types kept: {', '.join(model['layer_types'])}; sliding window "
                         f"{model['sliding_window']}")
    for outcome in outcomes:
        calls = f": call {', '.join(outcome.requires)}" if outcome.requires else ""
        lines.append(f"- {outcome.title}: {outcome.answer} here{calls}")
        if outcome.answer in meanings:
            lines.append(f"    ({meanings[outcome.answer]}; route: {outcome.route or 'none worked'})")
        for label, error in outcome.errors.items():
            lines.append(f"    {label}: {error}")
        if outcome.matrix:
            lines.append(f"    the matrix says for this pair{llama}: {outcome.matrix}")
        if outcome.nearest:
            lines.append(f"    nearest published pair where it works{llama}: {outcome.nearest}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """`kvcc`'s arguments; building it imports neither torch nor transformers, so `--help` always answers."""
    description = __doc__.split("\n\n")[0].replace("\n", " ")
    parser = argparse.ArgumentParser(prog="kvcc", description=description)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check the installed torch/transformers pair, use by use",
                                description=__doc__.split("\n\n")[1].replace("\n", " "))
    check.add_argument("--json", action="store_true", help="print the outcomes as JSON instead of text")
    check.add_argument("--matrix", type=Path, metavar="FILE",
                       help="a kvcc-verified/2 answers file other than the bundled compat/verified.json")
    model = check.add_mutually_exclusive_group()
    model.add_argument("--config", type=Path, metavar="PATH",
                       help="check a tiny random model of your own architecture instead of the tiny Llama: built "
                            "from this config.json (its model_type's config class), scaled down (layers, hidden "
                            "size, heads keeping the KV grouping, vocab; sliding windows and layer types kept "
                            "consistent); nothing is downloaded")
    model.add_argument("--model-type", metavar="NAME",
                       help="as --config, from the defaults of the config class of this model_type (qwen3, "
                            "gemma3_text, ...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`kvcc check [--json] [--matrix FILE] [--config PATH | --model-type NAME]`; returns the exit status."""
    args = parser().parse_args(argv)
    try:  # the files first: a bad --matrix or --config is said even where torch or transformers is missing
        verified = load_verified(args.matrix)
        choice = ModelChoice.read(args.config) if args.config else \
            ModelChoice(args.model_type) if args.model_type else None
        pair = installed_pair()
        config, model = resolve_model(choice) if choice else (None, None)
    except (metadata.PackageNotFoundError, OSError, ValueError) as exc:  # Refused is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcomes = run_checks(config)
    annotate(outcomes, verified, pair, other_model=model is not None)
    listed = any((cell["transformers"], cell["torch"]) == pair for cell in verified["cells"])
    if args.json:
        print(json.dumps({"transformers": pair[0], "torch": pair[1], "in_matrix": listed,
                          "matrix_generated_at": verified["generated_at"], **({"model": model} if model else {}),
                          "checks": [outcome.to_json() for outcome in outcomes]}, indent=2))
    else:
        print(report(outcomes, pair, listed, verified.get("meanings", {}), model))
    return 0 if all(outcome.answer != BROKEN for outcome in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
