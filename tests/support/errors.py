"""Errors as cells record them, shared by the tests of re-deriving and re-rendering records."""

from __future__ import annotations

NO_FLAT_APPLY = ("SerializeError: Failed serializing node flat_apply in graph: %flat_apply : [num_users=1] = "
                 "call_function[target=torch.ops.higher_order.flat_apply]")
