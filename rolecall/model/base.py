"""The base of every file model (scenarios, entitlements): strict and frozen.

Strict (`extra="forbid"`): a misspelled field is an error naming it, never silently
ignored. Frozen: a loaded scenario is a value the oracle and the cells share.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Up to 64 characters: a discovered stack's roles and groups keep their AWS names.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+=,@-]{0,63}$")]
