"""Token-shaped values: find them, and never print one in full.

A token pasted into a spec or manifest must not travel on into a CI log
through an error message ("value 'hf_…' is not one of …"). Every place that
prints a message (reports, notes, errors) masks what looks like a token:
the first few characters stay so the user can tell which one it was.
"""

from __future__ import annotations

from llmkube.lazyre import lazy

# Shapes of well-known credentials (prefix + enough entropy that ordinary words never match), compiled
# on first use: most runs' texts hold none of their starts (`holds_token`).
TOKEN = lazy(
    r"\b("
    r"hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub classic / OAuth / app tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"  # GitHub fine-grained
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic API keys
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|nvapi-[A-Za-z0-9_-]{20,}"  # NVIDIA NGC
    r")"
)
# An AWS secret access key next to its name (40 base64 characters alone are too common to flag).
AWS_SECRET = lazy(r"(?i)(aws_secret_access_key\s*[=:]\s*['\"]?)([A-Za-z0-9/+=]{40})")
_KEEP = 5
#: The literal start of each of TOKEN's alternatives: a text holding none of them holds no TOKEN match.
_TOKEN_STARTS = ("hf_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "AKIA", "ASIA", "sk-", "xox", "AIza", "nvapi-")


def redact(token: str) -> str:
    """`hf_AbCd…`: enough to recognise it, not enough to use it."""
    return token[:_KEEP] + "…" if len(token) > 8 else "…"


def holds_token(text: str) -> bool:
    """`bool(find_tokens(text))`, told faster: a regex search tries every alternative at every
    position, and most texts (a run's objects) hold none of the literal starts the patterns need,
    which substring checks rule out at memory speed (tests/test_secrets.py). AWS_SECRET
    ignores case: an ASCII text is ruled out by its lowercase copy; any other is searched."""
    for start in _TOKEN_STARTS:
        if start in text:
            if TOKEN().search(text):
                return True
            break
    if text.isascii() and "aws_secret_access_key" not in text.lower():
        return False
    return AWS_SECRET().search(text) is not None


def find_tokens(text: str) -> list[str]:
    """The token-shaped substrings of `text`."""
    return [m.group(0) for m in TOKEN().finditer(text)] + [m.group(2) for m in AWS_SECRET().finditer(text)]


def mask(text: str) -> str:
    """`text` with every token-shaped substring shortened to its first characters."""
    if not text or not holds_token(text):  # most messages hold none: no regex compiled or searched
        return text
    text = TOKEN().sub(lambda m: redact(m.group(0)), text)
    return AWS_SECRET().sub(lambda m: m.group(1) + redact(m.group(2)), text)
