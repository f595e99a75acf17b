"""Keep one test's leaked torch state from failing the tests after it in the same process.

An export that raises while tracing inside `torch.vmap` (transformers' sdpa mask is built with vmap on
4.53-4.57; e.g. torch 2.7.1's strict export of a DynamicCache step stops with "NYI: querying is_contiguous
inside of vmap") can leave functorch's vmap level pushed: torch does not pop it on that error path. Every
later random call in the process then raises "vmap: called random operation while in randomness error
mode", so tests that have nothing to do with the first failure fail or error in turn, and pass when re-run
alone. The suites' conftest pops such levels after each test.
"""

from __future__ import annotations

import torch


def release_leaked_vmap_levels() -> int:
    """Pop every vmap level left on functorch's interpreter stack (none is open between tests); return how
    many were popped. Stops at the first interpreter of another kind (grad, jvp), which it leaves alone."""
    functorch = torch._C._functorch
    popped = 0
    while functorch.maybe_current_level() is not None:
        if functorch.peek_interpreter_stack().key() != functorch.TransformType.Vmap:
            break
        functorch._vmap_decrement_nesting()
        popped += 1
    return popped
