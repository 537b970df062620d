"""pipeline.run and the kind registry: the one path every command takes."""

from __future__ import annotations

import dataclasses

import pytest

from llmkube import pipeline
from llmkube.errors import InputError
from llmkube.kinds import KINDS, TRAINING_TEMPLATES
from llmkube.options import Options
from llmkube.render import BUILTIN_TEMPLATES
from tests.support.paths import EXAMPLES


def test_every_kind_in_the_examples_is_registered_with_a_built_in_template():
    specs = pipeline.load_inputs([str(EXAMPLES)]).specs
    assert {s.kind for s in specs} == set(KINDS)
    for s in specs:
        assert (BUILTIN_TEMPLATES / KINDS[s.kind].template(s.spec)).is_file()
    assert all((BUILTIN_TEMPLATES / name).is_file() for name in TRAINING_TEMPLATES.values())


def test_run_renders_specs_and_keeps_manifests_as_targets():
    run = pipeline.run([str(EXAMPLES)], Options())
    assert run.rendering.objects and not run.manifests
    assert [t.obj for t in run.targets] == [r.obj for r in run.rendering.objects]
    assert all(t.spec is r.source for t, r in zip(run.targets, run.rendering.objects))


def test_findings_split_into_missing_schemas_and_problems(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: 1}\n"
    )
    run = pipeline.run([str(manifest)], dataclasses.replace(Options(use_cache=False), rules=False))
    assert [f.object for f in run.missing_schemas] == ["Widget/w"]
    assert run.problems and all(f.code != pipeline.NO_SCHEMA for f in run.problems)
    assert run.findings == sorted(run.missing_schemas + run.problems, key=type(run.findings[0]).sort_key)
    ignoring = pipeline.run([str(manifest)], Options(use_cache=False, rules=False, ignore=(pipeline.NO_SCHEMA,)))
    assert ignoring.missing_schemas == [] and ignoring.problems == run.problems


def test_an_unknown_ignored_rule_code_is_refused_before_anything_is_read(tmp_path):
    with pytest.raises(InputError, match="unknown rule codes: LK999"):
        pipeline.run([str(tmp_path / "absent.yaml")], Options(ignore=("LK999", "no-schema")))
