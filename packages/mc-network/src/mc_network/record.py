"""Recording plans: which variables, how often. Backends fill preallocated arrays."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RecordPlan"]


@dataclass(frozen=True)
class RecordPlan:
    """What a stage records.

    Parameters
    ----------
    variables
        ``"population.var"`` (e.g. ``"output.v_brev"``) or ``"projection.g"`` /
        ``"projection.delta"`` (e.g. ``"fb_1.g"``).
    every
        Record after every local step ``k`` with ``k % every == 0`` (the original records
        every 20 steps: 5 records per 100-step sample, at steps 0, 20, 40, 60, 80 of each
        sample). A record made at step ``k`` holds the state after step ``k``.
    """

    variables: tuple[str, ...] = ()
    every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(self.variables))
        if not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"record every: {self.every!r} must be a positive integer")
        for v in self.variables:
            if v.count(".") != 1:
                raise ValueError(f"record variable {v!r}: use 'population.var' or 'projection.g'")

    def n_records(self, n_steps: int) -> int:
        """Number of records in a stage of ``n_steps`` steps."""
        return -(-n_steps // self.every)
