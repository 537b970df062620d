"""`llmkube rules list|show`: the LLM-aware rules and their documentation, from the registry."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from llmkube.errors import InputError
from llmkube.pipeline import RuleEntry, rule_entries
from llmkube.suggest import nearest


def run_list(*, report: str) -> int:
    entries = rule_entries()
    if report == "json":
        rows = [{k: v for k, v in asdict(e).items() if k != "doc"} for e in entries]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    rows_text = [[e.code, e.name, e.severity, e.summary] for e in entries]
    header = ["CODE", "NAME", "SEVERITY", "SUMMARY"]
    widths = [max(len(r[i]) for r in [header, *rows_text]) for i in range(len(header))]
    sys.stdout.write("".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows_text]))
    return 0


def find(code_or_name: str, entries: list[RuleEntry]) -> RuleEntry:
    """The rule a code (any case) or a rule name names; an unknown one is an input error with the nearest."""
    by_code = {e.code: e for e in entries}
    names = {e.name: e.code for e in entries}
    key = code_or_name.strip()
    hit = by_code.get(key.upper()) or by_code.get(names.get(key.lower(), ""))
    if hit is not None:
        return hit
    close = nearest(key, by_code, names)
    hint = ("did you mean " + " or ".join(f"{c} ({by_code[c].name})" for c in close) + "?") if close else None
    raise InputError(f"unknown rule {code_or_name!r}", hint=(hint + " " if hint else "") + "`llmkube rules list` lists them all")


def run_show(code_or_name: str) -> int:
    e = find(code_or_name, rule_entries())
    sys.stdout.write(f"{e.code} {e.name}\n\nSeverity: {e.severity} · Family: {e.family} · Summary: {e.summary}\n\n{e.doc}\n")
    return 0
