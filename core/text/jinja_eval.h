// Renders a parsed template (jinja_ast.h) with jinja2's runtime rules: for-loop bodies and macros
// get their own scope (a `set` inside a loop does not leak out; namespace() objects carry values
// across), `if` does not; Undefined prints as "" and errors only where jinja2's default Undefined
// does (attribute/item of it, arithmetic, calls).
#pragma once
#include <string>

#include "core/text/jinja_ast.h"
#include "core/text/jinja_value.h"

namespace rlhf::text::jinja {

// variables: the render context (messages, add_generation_prompt, bos_token, ...), shadowing the
// built-in globals. Throws TemplateError with the line and column of the failing expression.
std::string render(const Template& tmpl, const Dict& variables);

}  // namespace rlhf::text::jinja
