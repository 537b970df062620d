"""Errors that end a command with exit code 2 (bad input or usage).

Anything raised as `InputError` is printed as one clear message, never as a
traceback: `file:line:col: message`, then the field path and a hint.
"""

from __future__ import annotations

from collections.abc import Sequence

from llmkube.records import record


@record(frozen=True)
class SourceMark:
    """Where something came from in a user's file (1-based line and column)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class InputError(Exception):
    """Bad input: unreadable file, YAML syntax, an invalid spec, an unknown profile."""

    def __init__(
        self,
        message: str,
        *,
        mark: SourceMark | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        head = f"{self.mark}: {self.message}" if self.mark else self.message
        parts = [head]
        if self.field:
            parts.append(f"  field: {self.field}")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class InputErrors(InputError):
    """Several input errors found in one pass, reported together."""

    def __init__(self, errors: list[InputError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def combined(errors: Sequence[InputError]) -> InputError:
    """One error as itself, several as one `InputErrors` (reported together)."""
    return errors[0] if len(errors) == 1 else InputErrors(list(errors))


def each(exc: InputError) -> list[InputError]:
    """The errors an exception stands for: its members for `InputErrors`, else itself."""
    return list(exc.errors) if isinstance(exc, InputErrors) else [exc]
