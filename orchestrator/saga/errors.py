"""Engine errors.

EngineError
├── FlowNotFound      a saga row names a flow this process does not know
├── StepMismatch      the step rows do not match the flow definition (renamed/reordered steps)
└── SagaNotFound      no saga with that id
"""

from __future__ import annotations


class EngineError(Exception):
    pass


class FlowNotFound(EngineError):
    def __init__(self, flow: str) -> None:
        super().__init__(f"unknown flow {flow!r}")
        self.flow = flow


class StepMismatch(EngineError):
    def __init__(self, saga_id: str, index: int, recorded: str, defined: str) -> None:
        super().__init__(
            f"saga {saga_id}: step {index} is {recorded!r} in the table but {defined!r} in the flow"
        )


class SagaNotFound(EngineError):
    def __init__(self, saga_id: str) -> None:
        super().__init__(f"no saga {saga_id}")
        self.saga_id = saga_id
