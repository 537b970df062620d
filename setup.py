"""The optional C reader (llmkube._marked, over libyaml); everything else is in pyproject.toml.

`optional=True`: without a C compiler or libyaml's headers (Debian: libyaml-dev) the install still
succeeds, with a warning, and `fastyaml` runs its Python loop instead. The source's sha256 is compiled
in, so a build older than llmkube/_marked.c is noticed (tests/test_fastyaml_compiled.py): rebuild with
`pip install -e .` again.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "llmkube/_marked.c"
digest = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "llmkube._marked",
            sources=[SOURCE],
            libraries=["yaml"],
            define_macros=[("LLMKUBE_MARKED_SHA256", f'"{digest}"')],
            optional=True,
        )
    ]
)
