// Jinja semantics one rule at a time (whitespace control, Python printing, tojson, scoping, loops,
// macros, filters, tests, methods): tests/fixtures/chat_template/semantics.json holds small
// templates, the rule each shows, and the text Python jinja2 3.1.6 renders for it when configured
// as transformers configures it (tests/tools/chat_template/make_semantics.py).
#include <QtTest/QtTest>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/text/chat_template.h"

namespace {

nlohmann::ordered_json load_cases() {
    std::ifstream in(RLHF_FIXTURES_DIR "/chat_template/semantics.json");
    if (!in) return nlohmann::ordered_json::array();
    return nlohmann::ordered_json::parse(in);
}

}  // namespace

class JinjaTest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void semantics_data() {
        QTest::addColumn<int>("index");
        static const nlohmann::ordered_json cases = load_cases();
        QVERIFY(cases.size() >= 50);
        for (size_t k = 0; k < cases.size(); ++k)
            QTest::newRow(cases[k]["rule"].get<std::string>().c_str()) << int(k);
    }

    void semantics() {
        QFETCH(int, index);
        static const nlohmann::ordered_json cases = load_cases();
        const auto& c = cases[size_t(index)];
        rlhf::text::ChatTemplate t(c["source"].get<std::string>(), "case");
        // Variables go in as extra (ordered, like Python dicts); messages may be among them.
        nlohmann::ordered_json vars = c["variables"];
        nlohmann::ordered_json messages = vars.contains("messages") ? vars["messages"] : nlohmann::ordered_json::array();
        vars.erase("messages");
        QCOMPARE(t.render_ordered(messages, false, vars), c["expected"].get<std::string>());
    }

    // One template object renders many times with different inputs (render keeps no state).
    void render_is_repeatable() {
        rlhf::text::ChatTemplate t("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                                   "{{ m.content|upper }}{% endfor %}{{ ns.n }}");
        nlohmann::json a = nlohmann::json::parse(R"([{"role":"user","content":"a"}])");
        nlohmann::json b = nlohmann::json::parse(R"([{"role":"user","content":"b"},{"role":"user","content":"c"}])");
        QCOMPARE(t.render(a, false), std::string("A1"));
        QCOMPARE(t.render(b, false), std::string("BC2"));
        QCOMPARE(t.render(a, false), std::string("A1"));
    }
};

QTEST_APPLESS_MAIN(JinjaTest)
#include "test_jinja.moc"
