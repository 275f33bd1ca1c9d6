// Tree-walking renderer for chat templates (see jinja_eval.h for the scoping rules).
#include "core/text/jinja_eval.h"

#include <cmath>
#include <unordered_map>

#include "core/text/jinja_builtins.h"
#include "core/text/jinja_lexer.h"

namespace rlhf::text::jinja {
namespace {

using Frame = std::unordered_map<std::string, Value>;
using FramePtr = std::shared_ptr<Frame>;

enum class Flow { Normal, Break, Continue };

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
    if (a.is_undefined()) throw ValueError(undefined_message(a));
    if (b.is_undefined()) throw ValueError(undefined_message(b));
    throw ValueError("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

// Python floor division and modulo (the result takes the divisor's sign).
int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    const bool nums = a.is_number() && b.is_number();
    const bool floats = nums && (a.kind == Kind::Float || b.kind == Kind::Float);
    if (op == "+") {
        if (nums) return floats ? Value::number(a.as_double() + b.as_double()) : Value::integer(a.as_int() + b.as_int());
        if (a.is_string() && b.is_string()) return Value::string(a.s + b.s);
        if (a.is_list() && b.is_list()) {
            List out = *a.list;
            out.insert(out.end(), b.list->begin(), b.list->end());
            return Value::make_list(std::move(out));
        }
        if (a.is_string() && !b.is_undefined())
            throw ValueError("can only concatenate str (not \"" + b.type_name() + "\") to str");
        type_error(op, a, b);
    }
    if (op == "-") {
        if (nums) return floats ? Value::number(a.as_double() - b.as_double()) : Value::integer(a.as_int() - b.as_int());
        type_error(op, a, b);
    }
    if (op == "*") {
        if (nums) return floats ? Value::number(a.as_double() * b.as_double()) : Value::integer(a.as_int() * b.as_int());
        const Value* seq = (a.is_string() || a.is_list()) && b.is_integral() ? &a
                         : (b.is_string() || b.is_list()) && a.is_integral() ? &b : nullptr;
        if (seq) {
            int64_t n = (seq == &a ? b : a).as_int();
            if (seq->is_string()) {
                std::string out;
                for (int64_t k = 0; k < n; ++k) out += seq->s;
                return Value::string(out);
            }
            List out;
            for (int64_t k = 0; k < n; ++k) out.insert(out.end(), seq->list->begin(), seq->list->end());
            return Value::make_list(std::move(out));
        }
        type_error(op, a, b);
    }
    if (op == "/") {
        if (!nums) type_error(op, a, b);
        if (b.as_double() == 0.0) throw ValueError("division by zero");
        return Value::number(a.as_double() / b.as_double());
    }
    if (op == "//") {
        if (!nums) type_error(op, a, b);
        if (b.as_double() == 0.0) throw ValueError("integer division or modulo by zero");
        if (floats) return Value::number(std::floor(a.as_double() / b.as_double()));
        return Value::integer(floor_div(a.as_int(), b.as_int()));
    }
    if (op == "%") {
        if (a.is_string()) {
            // Python printf-style formatting: "%s" % x, "%s and %s" % (x, y)
            CallArgs args;
            if (b.is_list()) args.positional = *b.list;
            else args.positional.push_back(b);
            return apply_filter("format", a, args);
        }
        if (!nums) type_error(op, a, b);
        if (b.as_double() == 0.0) throw ValueError("integer division or modulo by zero");
        if (floats) {
            double r = std::fmod(a.as_double(), b.as_double());
            if (r != 0.0 && ((r < 0) != (b.as_double() < 0))) r += b.as_double();
            return Value::number(r);
        }
        return Value::integer(a.as_int() - floor_div(a.as_int(), b.as_int()) * b.as_int());
    }
    if (op == "**") {
        if (!nums) type_error(op, a, b);
        if (!floats && b.as_int() >= 0) {
            int64_t r = 1;
            for (int64_t k = 0; k < b.as_int(); ++k) r *= a.as_int();
            return Value::integer(r);
        }
        return Value::number(std::pow(a.as_double(), b.as_double()));
    }
    throw ValueError("unknown operator " + op);
}

bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return less_than(a, b) || equals(a, b);
    if (op == ">=") return less_than(b, a) || equals(a, b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    throw ValueError("unknown comparison " + op);
}

class Interpreter {
public:
    explicit Interpreter(const Dict& variables) {
        auto globals = std::make_shared<Frame>();
        for (auto& kv : builtin_globals().items) (*globals)[kv.first] = kv.second;
        for (const auto& kv : variables.items) (*globals)[kv.first] = kv.second;
        frames_.push_back(globals);
        frames_.push_back(std::make_shared<Frame>());  // the template's own top-level scope
    }

    std::string run(const Template& t) {
        std::string out;
        exec(t.body, out);
        return out;
    }

private:
    // Pushes a scope for a loop iteration or macro call; pops it on every exit path.
    struct ScopeGuard {
        Interpreter& in;
        explicit ScopeGuard(Interpreter& i) : in(i) { in.frames_.push_back(std::make_shared<Frame>()); }
        ~ScopeGuard() { in.frames_.pop_back(); }
    };

    Value lookup(const std::string& name) const {
        for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
            auto hit = (*it)->find(name);
            if (hit != (*it)->end()) return hit->second;
        }
        return Value::undefined(name);
    }

    void assign(const std::string& name, Value v) { (*frames_.back())[name] = std::move(v); }

    // -----------------------------------------------------------------------------------------
    // statements

    Flow exec(const Body& body, std::string& out) {
        for (const auto& s : body) {
            Flow f = exec(*s, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec(const Stmt& s, std::string& out) {
        switch (s.kind) {
        case StmtKind::Text: out += s.text; return Flow::Normal;
        case StmtKind::Output: out += eval(*s.expr).str(); return Flow::Normal;
        case StmtKind::If:
            for (const auto& branch : s.branches)
                if (eval(*branch.first).truthy()) return exec(branch.second, out);
            return exec(s.else_body, out);
        case StmtKind::For: return exec_for(s, out);
        case StmtKind::Set: {
            Value v = eval(*s.expr);
            if (!s.text.empty()) {
                Value ns = lookup(s.targets[0]);
                if (ns.kind != Kind::Namespace)
                    throw TemplateError(s.line, s.column, "cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
                ns.dict->set(s.text, std::move(v));
            } else {
                bind(s, s.targets, v);
            }
            return Flow::Normal;
        }
        case StmtKind::SetBlock: {
            std::string buf;
            exec(s.body, buf);
            assign(s.targets[0], Value::string(std::move(buf)));
            return Flow::Normal;
        }
        case StmtKind::Macro: {
            // Weak references: the macro lives in a frame it also captures (no shared_ptr cycle).
            std::vector<std::weak_ptr<Frame>> scope(frames_.begin(), frames_.end());
            const Stmt* def = &s;
            assign(s.text, Value::callable([this, def, scope](CallArgs& a) { return call_body(*def, "macro '" + def->text + "'", scope, a); }));
            return Flow::Normal;
        }
        case StmtKind::FilterBlock: {
            std::string buf;
            Flow f = exec(s.body, buf);
            Value saved = block_input_;
            block_input_ = Value::string(std::move(buf));
            Value result = eval(*s.expr);
            block_input_ = saved;
            out += result.str();
            return f;
        }
        case StmtKind::CallBlock: {
            // caller(): renders the block body in the scope of the call site, with its parameters.
            std::vector<std::weak_ptr<Frame>> scope(frames_.begin(), frames_.end());
            const Stmt* def = &s;
            Value caller = Value::callable([this, def, scope](CallArgs& a) { return call_body(*def, "caller", scope, a); });
            const Expr& call = *s.expr;
            Value callee = eval(*call.a);
            CallArgs args = eval_args(call);
            args.keyword.emplace_back("caller", caller);
            try {
                if (callee.kind != Kind::Callable) throw ValueError("'call' needs a macro, got " + callee.type_name());
                out += (*callee.fn)(args).str();
            } catch (const RaisedError& err) {
                throw TemplateError(call.line, call.column, std::string("raise_exception: ") + err.what());
            } catch (const ValueError& err) {
                throw TemplateError(call.line, call.column, err.what());
            }
            return Flow::Normal;
        }
        case StmtKind::Break: return Flow::Break;
        case StmtKind::Continue: return Flow::Continue;
        }
        return Flow::Normal;
    }

    // Binds loop/set targets; several names unpack a sequence of the same length.
    void bind(const Stmt& s, const std::vector<std::string>& targets, const Value& v) {
        if (targets.size() == 1) {
            assign(targets[0], v);
            return;
        }
        List parts;
        try {
            parts = iterate(v);
        } catch (const ValueError& e) {
            throw TemplateError(s.line, s.column, std::string("cannot unpack: ") + e.what());
        }
        if (parts.size() != targets.size())
            throw TemplateError(s.line, s.column, "cannot unpack " + std::to_string(parts.size()) + " values into " +
                                                      std::to_string(targets.size()) + " names");
        for (size_t k = 0; k < targets.size(); ++k) assign(targets[k], parts[k]);
    }

    Flow exec_for(const Stmt& s, std::string& out) {
        Value iterable = eval(*s.expr);
        List items;
        try {
            items = iterate(iterable);
        } catch (const ValueError& e) {
            throw TemplateError(s.expr->line, s.expr->column, e.what());
        }
        if (s.cond) {
            // {% for x in xs if cond %}: jinja2 filters first, so loop.length counts survivors.
            List kept;
            for (const Value& item : items) {
                ScopeGuard scope(*this);
                bind(s, s.targets, item);
                if (eval(*s.cond).truthy()) kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty()) return exec(s.else_body, out);
        const int64_t n = static_cast<int64_t>(items.size());
        ++loop_depth_;
        struct DepthGuard {
            int& d;
            ~DepthGuard() { --d; }
        } depth_guard{loop_depth_};
        for (int64_t k = 0; k < n; ++k) {
            ScopeGuard scope(*this);
            bind(s, s.targets, items[static_cast<size_t>(k)]);
            Dict loop;
            loop.set("index", Value::integer(k + 1));
            loop.set("index0", Value::integer(k));
            loop.set("revindex", Value::integer(n - k));
            loop.set("revindex0", Value::integer(n - k - 1));
            loop.set("first", Value::boolean(k == 0));
            loop.set("last", Value::boolean(k == n - 1));
            loop.set("length", Value::integer(n));
            loop.set("depth", Value::integer(loop_depth_));
            loop.set("depth0", Value::integer(loop_depth_ - 1));
            loop.set("previtem", k > 0 ? items[static_cast<size_t>(k - 1)] : Value::undefined("there is no previous item"));
            loop.set("nextitem", k + 1 < n ? items[static_cast<size_t>(k + 1)] : Value::undefined("there is no next item"));
            loop.set("cycle", Value::callable([k](CallArgs& a) -> Value {
                if (a.positional.empty()) throw ValueError("no items for cycling given");
                return a.positional[static_cast<size_t>(k) % a.positional.size()];
            }));
            assign("loop", Value::make_dict(std::move(loop)));
            if (exec(s.body, out) == Flow::Break) break;
        }
        return Flow::Normal;
    }

    // Runs a macro body (or a call block's body as caller()) in its defining scope plus a frame
    // of parameters. A macro also receives `caller` when invoked from a {% call %} block.
    Value call_body(const Stmt& def, const std::string& what, const std::vector<std::weak_ptr<Frame>>& scope, CallArgs& a) {
        std::vector<FramePtr> frames;
        for (const auto& w : scope) {
            FramePtr f = w.lock();
            if (!f) throw ValueError(what + " was called after its scope ended");
            frames.push_back(f);
        }
        if (a.positional.size() > def.params.size())
            throw ValueError(what + " takes not more than " + std::to_string(def.params.size()) + " argument(s)");
        std::swap(frames_, frames);
        struct Restore {
            Interpreter& in;
            std::vector<FramePtr>& saved;
            ~Restore() { std::swap(in.frames_, saved); }
        } restore{*this, frames};
        ScopeGuard local(*this);
        for (const auto& kv : a.keyword) {
            bool known = false;
            for (const auto& p : def.params) known = known || p.first == kv.first;
            if (kv.first == "caller" && def.kind == StmtKind::Macro) {
                assign("caller", kv.second);
                continue;
            }
            if (!known) throw ValueError(what + " takes no keyword argument '" + kv.first + "'");
        }
        for (size_t k = 0; k < def.params.size(); ++k) {
            const auto& p = def.params[k];
            if (k < a.positional.size()) {
                assign(p.first, a.positional[k]);
            } else if (const Value* v = a.kwarg(p.first)) {
                assign(p.first, *v);
            } else if (p.second) {
                assign(p.first, eval(*p.second));
            } else {
                assign(p.first, Value::undefined("parameter '" + p.first + "' was not provided"));
            }
        }
        std::string out;
        int saved_depth = loop_depth_;
        loop_depth_ = 0;
        exec(def.body, out);
        loop_depth_ = saved_depth;
        return Value::string(std::move(out));
    }

    // -----------------------------------------------------------------------------------------
    // expressions

    Value eval(const Expr& e) {
        try {
            return eval_node(e);
        } catch (const RaisedError& err) {
            throw TemplateError(e.line, e.column, std::string("raise_exception: ") + err.what());
        } catch (const ValueError& err) {
            throw TemplateError(e.line, e.column, err.what());
        }
    }

    CallArgs eval_args(const Expr& e) {
        CallArgs args;
        for (const auto& item : e.items) args.positional.push_back(eval(*item));
        for (const auto& kw : e.keywords) args.keyword.emplace_back(kw.first, eval(*kw.second));
        if (e.kind == ExprKind::Call && e.b) {
            Value spread = eval(*e.b);
            if (!spread.is_list()) throw ValueError("argument after * must be a list, not " + spread.type_name());
            args.positional.insert(args.positional.end(), spread.list->begin(), spread.list->end());
        }
        if (e.kind == ExprKind::Call && e.c) {
            Value spread = eval(*e.c);
            if (!spread.is_dict()) throw ValueError("argument after ** must be a dict, not " + spread.type_name());
            for (const auto& kv : spread.dict->items) args.keyword.emplace_back(kv.first, kv.second);
        }
        return args;
    }

    Value eval_node(const Expr& e) {
        switch (e.kind) {
        case ExprKind::Literal: return e.literal;
        case ExprKind::Name: return lookup(e.name);
        case ExprKind::List:
        case ExprKind::Tuple: {
            List out;
            for (const auto& item : e.items) out.push_back(eval(*item));
            return e.kind == ExprKind::Tuple ? Value::make_tuple(std::move(out)) : Value::make_list(std::move(out));
        }
        case ExprKind::Dict: {
            Dict out;
            for (size_t k = 0; k + 1 < e.items.size(); k += 2) {
                Value key = eval(*e.items[k]);
                if (!key.is_string()) throw ValueError("dict keys must be strings here, not " + key.type_name());
                out.set(key.s, eval(*e.items[k + 1]));
            }
            return Value::make_dict(std::move(out));
        }
        case ExprKind::GetAttr: return get_attribute(eval(*e.a), e.name);
        case ExprKind::GetItem: {
            Value obj = eval(*e.a);
            return get_item(obj, eval(*e.b));
        }
        case ExprKind::Slice: {
            Value obj = eval(*e.a);
            Value parts[3];
            for (int k = 0; k < 3; ++k) parts[k] = e.items[k] ? eval(*e.items[k]) : Value::none();
            return get_slice(obj, parts[0], parts[1], parts[2]);
        }
        case ExprKind::Call: {
            Value callee = eval(*e.a);
            CallArgs args = eval_args(e);
            if (callee.kind == Kind::Callable) return (*callee.fn)(args);
            if (callee.is_undefined()) throw ValueError(undefined_message(callee));
            throw ValueError("'" + callee.type_name() + "' object is not callable");
        }
        case ExprKind::Filter: {
            Value operand = e.a ? eval(*e.a) : block_input_;
            CallArgs args = eval_args(e);
            return apply_filter(e.name, operand, args);
        }
        case ExprKind::Test: {
            Value operand = eval(*e.a);
            CallArgs args = eval_args(e);
            return Value::boolean(apply_test(e.name, operand, args));
        }
        case ExprKind::Unary: {
            Value v = eval(*e.a);
            if (e.name == "not") return Value::boolean(!v.truthy());
            if (v.is_undefined()) throw ValueError(undefined_message(v));
            if (!v.is_number()) throw ValueError("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
            if (e.name == "+") return v.kind == Kind::Bool ? Value::integer(v.as_int()) : v;
            return v.kind == Kind::Float ? Value::number(-v.f) : Value::integer(-v.as_int());
        }
        case ExprKind::Binary: {
            if (e.name == "and") {
                Value a = eval(*e.a);
                return a.truthy() ? eval(*e.b) : a;
            }
            if (e.name == "or") {
                Value a = eval(*e.a);
                return a.truthy() ? a : eval(*e.b);
            }
            Value a = eval(*e.a);
            Value b = eval(*e.b);
            if (e.name == "~") return Value::string(a.str() + b.str());
            return arithmetic(e.name, a, b);
        }
        case ExprKind::Compare: {
            Value left = eval(*e.a);
            for (size_t k = 0; k < e.ops.size(); ++k) {
                Value right = eval(*e.items[k]);
                if (!compare(e.ops[k], left, right)) return Value::boolean(false);
                left = std::move(right);
            }
            return Value::boolean(true);
        }
        case ExprKind::Cond:
            if (eval(*e.b).truthy()) return eval(*e.a);
            return e.c ? eval(*e.c) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
        }
        throw ValueError("unknown expression");
    }

    std::vector<FramePtr> frames_;  // [globals+variables, template top level, loop/macro scopes...]
    Value block_input_;             // text of the {% filter %} block being filtered
    int loop_depth_ = 0;
};

}  // namespace

std::string render(const Template& tmpl, const Dict& variables) { return Interpreter(variables).run(tmpl); }

}  // namespace rlhf::text::jinja
