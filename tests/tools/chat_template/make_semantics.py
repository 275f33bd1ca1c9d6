#!/usr/bin/env python3
"""Writes tests/fixtures/chat_template/semantics.json: small templates, one Jinja rule each, with
the text Python jinja2 renders for them in transformers' configuration (check_python.py's
compile_template). tests/text/test_jinja.cpp renders them with our engine and compares.
Run: python3 tests/tools/chat_template/make_semantics.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_python import FIXTURES, compile_template  # noqa: E402

# (rule, template, variables)
CASES = [
    ("trim_blocks drops the newline after each block tag", "{% if true %}\nA{% endif %}\nB", {}),
    ("lstrip_blocks drops the indentation before a block tag", "  {% if true %}x{% endif %}", {}),
    ("...but not before a variable tag", "  {{ 'x' }}", {}),
    ("{%+ turns lstrip_blocks off for this tag", "  {%+ if true %}x{% endif %}", {}),
    ("+%} turns trim_blocks off for this tag", "{% if true +%}\nx{% endif %}", {}),
    ("'-' strips all whitespace, newlines included, on its side", "a  \n {%- if true -%}  \n b{% endif %}", {}),
    ("one trailing newline of the source is dropped", "x\n", {}),
    ("only one", "x\n\n", {}),
    ("source newlines are normalised to \\n", "a\r\nb", {}),
    ("comments are block-like: trim_blocks applies", "a{# c #}\nb", {}),
    ("and lstrip_blocks", "  {# c #}\nb", {}),
    ("mid-line tags are not lstripped", "é {% if true %}kept{% endif %}", {}),
    ("Python float repr: shortest round-trip digits, exponent outside 1e-4 <= |x| < 1e16",
     "{{ 1.0 }} {{ 1e-5 }} {{ 1e16 }} {{ 123456789012345.6 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 2.0 ** 0.5 }} {{ -0.0 }} {{ 1e15 }} {{ 0.0001 }}", {}),
    ("str() of a list or dict uses repr() of the items", "{{ [1, 'a', none, true] }} {{ {'a': \"it's\"} }} {{ 'x\\ny' }}", {}),
    ("tuples print as tuples", "{{ (1, 'a') }} {{ (1,) }} {{ {'b': 1, 'a': 2}|items|list }}", {}),
    ("tojson: json.dumps(ensure_ascii=False), ', ' and ': ', keys in insertion order",
     "{{ {'b': 1, 'a': [1.5, true, none, 'é\\n']}|tojson }}", {}),
    ("tojson(indent=2): ',' separator and a newline per item", "{{ {'a': [1], 'e': {}}|tojson(indent=2) }}", {}),
    ("tojson(ensure_ascii=true): \\u escapes, surrogate pairs above U+FFFF", "{{ 'é😀'|tojson(ensure_ascii=true) }}", {}),
    ("tojson sort_keys and separators", "{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ [1, {'k': 2}]|tojson(separators=(',', ':')) }}", {}),
    ("string literal escapes are Python's", "{{ '\\u00e9\\x41\\n'|tojson }}", {}),
    ("a set inside a for loop does not leak out", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", {}),
    ("namespace attributes do", "{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}", {}),
    ("set inside if is visible after it", "{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}", {}),
    ("macros recurse and return strings", "{% macro f(n) %}{% if n > 1 %}{{ n * f(n - 1)|int }}{% else %}1{% endif %}{% endmacro %}{{ f(4) }}", {}),
    ("macro defaults and keyword arguments", "{% macro g(a, b='B', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ g(1) }} {{ g(1, c=3) }} {{ g(a=0, b=2) }}", {}),
    ("the inline if filters before the loop, so loop.length counts survivors",
     "{% for x in [1, 2, 3, 4] if x is even %}{{ loop.index }}/{{ loop.length }} {% endfor %}", {}),
    ("loop variables", "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first|int }}{{ loop.last|int }} {% endfor %}", {}),
    ("break and continue (loopcontrols)", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("for-else runs when nothing was iterated", "{% for x in [] %}x{% else %}none{% endfor %}{% for x in missing %}x{% else %}undef{% endfor %}", {}),
    ("strings are indexed by code point", "{{ 'héllo'[1] }} {{ '😀a'|length }} {{ 'añb'[::-1] }}", {}),
    ("and/or return an operand, as in Python", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ none or [] }} {{ '' and 1 }}", {}),
    ("Python floor division and modulo take the divisor's sign",
     "{{ 7 // -2 }} {{ -7 % 3 }} {{ 2 ** -1 }} {{ 10 / 4 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    ("list slicing", "{{ [1, 2, 3, 4, 5][1:-1] }} {{ [1, 2, 3][5:] }} {{ [1, 2, 3, 4, 5][::-2] }} {{ 'abc'[-1] }}", {}),
    ("`is defined` on namespace attributes", "{% set ns = namespace(a=1) %}{{ ns.a is defined }}{{ ns.b is defined }}", {}),
    ("transformers' {% generation %} renders its body", "{% generation %}x{% endgeneration %}", {}),
    ("block set", "{% set s %}a{{ 1 }}{% endset %}[{{ s }}]", {}),
    ("filter block", "{% filter upper %}ab{% endfilter %}", {}),
    ("capitalize; jinja2's title splits on -, space, brackets; str.title on any non-letter",
     "{{ 'hELLO wORLD'|capitalize }}|{{ \"they're bill's\"|title }}|{{ \"they're\".title() }}", {}),
    ("Unicode case mapping with special casing", "{{ 'ß'|upper }} {{ 'ÀÉÎ'|lower }}", {}),
    ("round(): half to even on the binary value (2.675 is 2.67499999...)",
     "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 7|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(0, 'floor') }}", {}),
    ("int()/float(): jinja2 retries int(float(x)); default 0",
     "{{ '0x1A'|int(0, 16) }} {{ ' 12 '|int }} {{ '1e3'|int }} {{ 3.9|int }} {{ 'x'|int }} {{ '-4'|int }} {{ '2.5'|float }} {{ 'nan'|float }}", {}),
    ("join with attribute", "{{ messages|join(', ', attribute='role') }}", {"messages": [{"role": "user"}, {"role": "assistant"}]}),
    ("dictsort by value, reversed", "{% for k, v in {'x': 3, 'y': 1, 'z': 2}|dictsort(by='value', reverse=true) %}{{ k }}{% endfor %}", {}),
    ("iterating a dict gives its keys in insertion order", "{% for k in d %}{{ k }}={{ d[k] }};{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("~ converts with str(); `in` on lists, dicts, strings",
     "{{ 'a' ~ none ~ 1 ~ [2] }} {{ 'abc' is string }} {{ 3 in [1, 2, 3] }} {{ 'b' in {'b': 1} }} {{ 'x' not in 'abc' }}", {}),
    ("str.split / rsplit", "{{ 'a b  c'.split(' ') }} {{ 'a b  c'.split() }} {{ 'a=b=c'.split('=', 1) }} {{ 'a,b'.rsplit(',', 1) }}", {}),
    ("indent(first, blank)", "{{ 'l1\\nl2\\n'|indent(2, true) }}|{{ 'l1\\n\\nl2'|indent(2, blank=true) }}", {}),
    ("sort/max/min ignore case by default; unique keeps the first",
     "{{ [3, 1, 2]|sort|first }} {{ [3, 1, 2]|max }} {{ ['B', 'a', 'C']|min }} {{ [1, 2, 2, 1]|unique|list }} {{ ['A', 'a', 'b']|unique|list }}", {}),
    ("attribute paths in sort/map", "{{ [{'n': 'x', 'v': 2}, {'n': 'y', 'v': 1}]|sort(attribute='v')|map(attribute='n')|join }} {{ [{'a': {'b': 5}}]|map(attribute='a.b')|list }}", {}),
    ("attributes of None are undefined, not errors", "{{ x is none }} {{ x is defined }} {{ x.y is undefined }}", {"x": None}),
    ("dict methods", "{% set d = {'a': 1, 'b': 2} %}{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys()|list }} {{ d.values()|list }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", {}),
    ("string methods", "{{ ' x '.strip() }}|{{ 'xyx'.strip('x') }}|{{ 'abc'.startswith(('x', 'a')) }}|{{ 'a-b'.replace('-', '+') }}|{{ 'Hi {}!'.format('you') }}|{{ 'a\\nb'.splitlines() }}", {}),
    ("selectattr/rejectattr with tests and no test", "{{ xs|selectattr('k')|map(attribute='n')|join }} {{ xs|rejectattr('k', 'none')|map(attribute='n')|join }} {{ xs|selectattr('n', 'in', ['a', 'c'])|map(attribute='n')|join }}",
     {"xs": [{"n": "a", "k": 1}, {"n": "b", "k": 0}, {"n": "c", "k": None}]}),
    ("call blocks pass their body to the macro as caller(), with arguments",
     "{% macro box(title) %}[{{ title }}: {{ caller() }}|{{ caller('x') }}]{% endmacro %}{% call(arg='-') box('T') %}body{{ arg }}{% endcall %}", {}),
    ("*args and **kwargs spread into a call", "{% macro f(a, b, c='C') %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ f(*[1, 2]) }} {{ f(**{'a': 3, 'b': 4, 'c': 5}) }} {{ f(6, *[7]) }}", {}),
    ("macros stored in a list can be called", "{% macro a() %}A{% endmacro %}{% macro b(x) %}B{{ x }}{% endmacro %}{% set ms = [a, b] %}{{ ms[0]() }}{{ ms[1](*[1]) }}", {}),
    ("default with boolean, d alias", "{{ none|default('x') }} {{ none|d('x', true) }} {{ ''|default('e', boolean=true) }} {{ missing|d }}|", {}),
]


def main():
    rows = []
    for rule, source, variables in CASES:
        rows.append({"rule": rule, "source": source, "variables": variables,
                     "expected": compile_template(source).render(**variables)})
    path = os.path.join(FIXTURES, "chat_template/semantics.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(rows)} cases to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
