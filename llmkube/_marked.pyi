"""Types of the compiled reader (llmkube/_marked.c); see fastyaml.load_marked."""

from typing import Any, Callable

SOURCE_SHA256: str
LIBYAML_VERSION: str
API: int

def setup(
    needs_reference: type[Exception],
    yaml_error: type[Exception],
    marked_map: type[dict[Any, Any]],
    marked_list: type[list[Any]],
    cache: dict[str, Any],
    rt_plain: Callable[[str], Any],
    block_scalar: Callable[[str, str], Any],
    max_nesting: int,
    /,
) -> None: ...
def load(text: str, /) -> list[tuple[Any, int, Any]]: ...
def setup_plain(needs_full: type[Exception], plain_scalar: Callable[[str], Any], cache: dict[str, Any], /) -> None: ...
def load_plain(text: str, /) -> list[Any]: ...
