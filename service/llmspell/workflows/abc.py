"""Workflow interfaces: the host a workflow runs against, and a step.

A workflow never reaches tools, agents or the event stream directly: it asks its
:class:`WorkflowHost`. :class:`~llmspell.workflows.LocalHost` serves Python callers;
the script API supplies a host bound to one script run (the run's toolbox, its agents,
its event stream and usage accounting).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.abc import Workflow
    from ..core.context import ExecutionContext
    from ._base import Execution, Scope

__all__ = ["Step", "WorkflowHost"]


class WorkflowHost(ABC):
    """What a running workflow may call: tools, agents, named workflows, the event sink.

    Methods are called from the event loop that runs the workflow; parallel workflows
    call them concurrently, so implementations must not hold state across awaits.
    """

    @property
    def emits(self) -> bool:
        """True when :meth:`emit` goes somewhere (lets workflows skip building events)."""
        return True

    @abstractmethod
    def emit(self, data: dict[str, Any]) -> None:
        """Publish a workflow event (``data["type"]`` is ``workflow.step.started`` etc.).

        Never raises and never blocks.
        """

    @abstractmethod
    async def invoke_tool(self, name: str, params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
        """Run tool ``name`` and return its success envelope.

        Raises:
            NotFound: no such tool.
            ValidationError: ``params`` do not match the tool's schema.
            LLMSpellError: whatever the tool failed with (``ToolError``, ``Timeout``...).
        """

    @abstractmethod
    async def run_agent(self, agent: Any, input: Any, ctx: ExecutionContext) -> dict[str, Any]:
        """Ask ``agent`` (a name, an inline definition or an agent object) about ``input``.

        ``input`` is a string, ``{text=, parameters=, media=}``, or any JSON value (sent as
        JSON text). Returns the agent output as a dict (``text``, ``tool_calls``, ``usage``...).

        Raises:
            NotFound: no agent of that name.
            ValidationError: the reference or the input is unusable.
            ProviderError, LimitExceeded, Timeout: the agent failed.
        """

    @abstractmethod
    async def find_workflow(self, name: str) -> Workflow | None:
        """The workflow ``name`` (asked when a ``workflow="name"`` step runs), or None.

        A host may look the name up somewhere slower than a dict (the script host falls
        back to the daemon's stored workflows), hence async.

        Raises:
            LLMSpellError: the lookup itself failed (``StorageError``...); None means unknown.
        """

    def check_agent(self, agent: Any) -> None:  # noqa: B027 - optional hook, accepts all by default
        """Reject an agent reference this host cannot run (called when a workflow is defined).

        Raises:
            ValidationError: the reference is not an agent this host knows how to run.
        """


class Step(ABC):
    """One unit of work in a workflow (a tool call, an agent call, a nested workflow, a function).

    Attributes:
        name: unique within its workflow; later steps read its output as ``{{steps.<name>.output}}``.
        kind: ``tool``, ``agent``, ``workflow`` or ``fn``.
        timeout: seconds one attempt may take, or None.
        retries: extra attempts after a failure, or None to follow the workflow's error strategy.
        required: whether the workflow fails when this step fails.
    """

    name: str
    kind: str
    timeout: float | None
    retries: int | None
    required: bool

    @abstractmethod
    async def run(self, ex: Execution, scope: Scope) -> Any:
        """Do the work once and return the step's output.

        Raises:
            LLMSpellError: the step failed (the workflow applies its error strategy).
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-compatible description (functions and objects shown as placeholders)."""
