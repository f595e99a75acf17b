"""A tiny T5 and its decode step with an EncoderDecoderCache (self- and cross-attention parts)."""

from __future__ import annotations

from typing import Any

import torch
import transformers
from transformers import cache_utils
from transformers.modeling_outputs import BaseModelOutput

from compat.tiny import dynamic_cache, forward_kwargs
from kvmatrix.run.process.attribution import eager
from suites.support.models import clone, greedy_loop

SOURCE_LEN = 5
VOCAB = 128


def tiny_t5() -> torch.nn.Module:
    """A 2+2-layer random T5 (d_model 32, 4 heads of 8) in eval mode."""
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        decoder_start_token_id=0, pad_token_id=0,
    )
    return transformers.T5ForConditionalGeneration(config).eval()


class Seq2SeqDecodeStep(torch.nn.Module):
    """One decoder step: (decoder_input_ids, encoder_states, cache, cache_position) -> (logits, cache)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, decoder_input_ids: torch.Tensor, encoder_states: torch.Tensor, cache: Any,
                cache_position: torch.Tensor) -> tuple[torch.Tensor, Any]:
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
            decoder_input_ids=decoder_input_ids,
            **forward_kwargs(self.model, cache, cache_position),
        )
        return out.logits, out.past_key_values


class Seq2SeqNoCacheStep(torch.nn.Module):
    """The same decoder with no cache at all: (decoder_input_ids, encoder_states) -> logits, the attribution
    ladder's cache-free rung."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, decoder_input_ids: torch.Tensor, encoder_states: torch.Tensor) -> torch.Tensor:
        return self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
            decoder_input_ids=decoder_input_ids, use_cache=False,
        ).logits


def encoder_states(model: torch.nn.Module, seed: int = 4) -> torch.Tensor:
    """The encoder's output for a random source sentence drawn with `seed`."""
    source = torch.randint(1, VOCAB, (1, SOURCE_LEN), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.get_encoder()(input_ids=source).last_hidden_state


def after_first_step(model: torch.nn.Module, seed: int = 4) -> tuple[Any, torch.Tensor]:
    """An EncoderDecoderCache after the first decoder step (cross-attention K/V computed and marked
    updated), and the encoder states (of the source sentence drawn with `seed`) it was computed from."""
    with eager("encoder and first decoder step"):
        states = encoder_states(model, seed)
        cache = cache_utils.EncoderDecoderCache(dynamic_cache(), dynamic_cache())
        with torch.no_grad():
            Seq2SeqDecodeStep(model)(torch.zeros(1, 1, dtype=torch.long), states, cache, torch.arange(1))
    return cache, states


def greedy(step: Any, cache: Any, states: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` tokens after the first; the logits of every step, concatenated."""
    def with_states(token: torch.Tensor, current: Any, position: torch.Tensor) -> tuple[torch.Tensor, Any]:
        return step(token, states, current, position)

    logits, _ = greedy_loop(with_states, clone(cache), steps, 1, torch.ones(1, 1, dtype=torch.long))
    return torch.cat(logits, dim=1)
