"""`python -m llmkube`, and the `llmkube` script (pyproject's entry point `llmkube.__main__:run`).

The cyclic garbage collector is paused before the CLI is imported: typer, click and pydantic create
tens of thousands of objects that live until exit, and the ~25 collections their import triggered
scanned them again and again (3–10 ms of every command). `cli.main()` pauses it as well (for an
in-process caller), and a run resumes it once its inputs are read and rendered (llmkube/gcpause.py).
"""

from __future__ import annotations


def run() -> None:
    from llmkube import gcpause

    gcpause.pause()
    from llmkube.cli import main

    main()


if __name__ == "__main__":
    run()
