"""Engine errors.

EngineError
├── FlowNotFound      a saga row names a flow this process does not know
│   └── BackendOff    … or one whose CRM backend is not configured in this process
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


class BackendOff(FlowNotFound):
    """The saga's flow is known, but its backend is not configured here: a process that has
    it moves the saga; this one leaves it in the table as it is."""

    def __init__(self, flow: str, backend: str) -> None:
        EngineError.__init__(
            self, f"flow {flow}: its backend {backend} is not configured on this service"
        )
        self.flow, self.backend = flow, backend


class StepMismatch(EngineError):
    def __init__(self, saga_id: str, index: int, recorded: str, defined: str) -> None:
        super().__init__(
            f"saga {saga_id}: step {index} is {recorded!r} in the table but {defined!r} in the flow"
        )


class SagaNotFound(EngineError):
    def __init__(self, saga_id: str) -> None:
        super().__init__(f"no saga {saga_id}")
        self.saga_id = saga_id
