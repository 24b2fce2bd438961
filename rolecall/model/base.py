"""The base of every file model (scenarios, entitlements): strict and frozen.

Strict (`extra="forbid"`): a misspelled field is an error naming it, never silently
ignored. Frozen: a loaded scenario is a value the oracle and the cells share.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
