// Importer acceptance per format and container: each hand-written fixture in
// tests/fixtures/data/ is imported and compared with the records written out below (the mapping
// table in core/data/formats.cpp, applied by hand); then written with TrlJsonlWriter and
// imported again, which must give the same content.
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include "core/data/formats.h"
#include "core/data/import.h"
#include "core/io/sha256.h"
#include "data/data_test_util.h"

using namespace data_test;
using rlhf::data::ExportStyle;

namespace {

std::string fixture(const char* name) {
    return std::string(RLHF_FIXTURES_DIR) + "/data/" + name;
}

// The content of the fixtures, by hand.
std::vector<Record> expected_trl_preference() {
    return {pref({{"", "What color is the sky?"}}, {{"", "It is blue."}}, {{"", "It is green."}}),
            pref({{"", "2+2?"}}, {{"", "4"}}, {{"", "5"}}, 9.0, 2.5)};
}
std::vector<Record> expected_hh() {
    // Record 1: one shared user turn, responses differ in the assistant turn.
    // Record 2: the first three turns are shared; the split is after "Tell me a fact.".
    return {
        pref({{"user", "What is a good name for a cat?"}}, {{"assistant", "How about Miso?"}},
             {{"assistant", "Cats do not need names."}}),
        pref({{"user", "Hi"}, {"assistant", "Hello! How can I help?"}, {"user", "Tell me a fact."}},
             {{"assistant", "Octopuses have three hearts."}}, {{"assistant", "No."}})};
}
std::vector<Record> expected_ultrafeedback() {
    return {
        pref({{"user", "Name a prime."}}, {{"assistant", "7"}}, {{"assistant", "8"}}, 8.0, 3.5)};
}
std::vector<Record> expected_shp() {
    // labels 1: A preferred (score_A = 10 chosen); labels 0: B preferred (score_B = 12 chosen).
    return {pref({{"user", "Why is the sky blue?"}}, {{"assistant", "Rayleigh scattering."}},
                 {{"assistant", "Because it reflects the ocean."}}, 10.0, 3.0),
            pref({{"user", "Is glass a liquid?"}}, {{"assistant", "No, it is an amorphous solid."}},
                 {{"assistant", "Yes, a slow one."}}, 12.0, 2.0)};
}
std::vector<Record> expected_alpaca() {
    // Empty input -> just the instruction; otherwise instruction + "\n\n" + input.
    return {sft({{"user", "Give three tips for staying healthy."},
                 {"assistant", "Eat well, sleep, exercise."}}),
            sft({{"user", "Translate to French.\n\nGood morning"}, {"assistant", "Bonjour"}})};
}
std::vector<Record> expected_chat() {  // sharegpt.json and messages.jsonl hold the same two chats
    return {sft({{"system", "You are terse."}, {"user", "Hello"}, {"assistant", "Hi."}}),
            sft({{"user", "1+1?"}, {"assistant", "2"}, {"user", "Times 3?"}, {"assistant", "6"}})};
}

struct FixtureCase {
    const char* file;
    const char* format;
    std::vector<Record> records;
};

std::vector<FixtureCase> fixture_cases() {
    return {
        {"trl-preference.jsonl", "trl-preference", expected_trl_preference()},
        {"trl-preference-implicit.jsonl",
         "trl-preference",
         {pref({}, {{"", "The sky is blue."}}, {{"", "The sky is green."}})}},
        {"trl-preference-conversational.jsonl",
         "trl-preference-conversational",
         // Record 2 has an implicit prompt: the shared first turn becomes the prompt.
         {pref({{"user", "Hi"}}, {{"assistant", "Hello!"}}, {{"assistant", "Go away."}}),
          pref({{"user", "Capital of France?"}}, {{"assistant", "Paris."}},
               {{"assistant", "Lyon."}})}},
        {"trl-preference.csv",
         "trl-preference",
         // BOM and CRLF dropped; "" -> "; the quoted CRLF inside a field reads as LF.
         {pref({{"", "What color is the sky?"}}, {{"", "It is blue."}}, {{"", "It is green."}}),
          pref({{"", "Say \"hi\", politely"}}, {{"", "Hi, friend!\nHow are you?"}}, {{"", "hi"}})}},
        {"trl-preference.csv.gz",
         "trl-preference",
         {pref({{"", "What color is the sky?"}}, {{"", "It is blue."}}, {{"", "It is green."}}),
          pref({{"", "Say \"hi\", politely"}}, {{"", "Hi, friend!\nHow are you?"}}, {{"", "hi"}})}},
        {"hh-rlhf.jsonl", "hh-rlhf", expected_hh()},
        {"hh-rlhf.json", "hh-rlhf", expected_hh()},
        {"hh-rlhf.jsonl.gz", "hh-rlhf", expected_hh()},
        {"ultrafeedback.jsonl", "ultrafeedback", expected_ultrafeedback()},
        {"ultrafeedback.csv", "ultrafeedback", expected_ultrafeedback()},
        {"shp.jsonl", "shp", expected_shp()},
        {"shp.csv", "shp", expected_shp()},
        {"alpaca.json", "alpaca", expected_alpaca()},
        {"alpaca-object.json", "alpaca", expected_alpaca()},
        {"alpaca.tsv", "alpaca", expected_alpaca()},
        {"sharegpt.json", "sharegpt", expected_chat()},
        {"sharegpt.json.gz", "sharegpt", expected_chat()},
        {"messages.jsonl", "messages", expected_chat()},
        {"text.jsonl",
         "text",
         {sft({{"", "Once upon a time there was a tokenizer."}}),
          sft({{"", "Line one\nLine two"}})}},
        {"prompt-completion.jsonl",
         "prompt-completion",
         {sft({{"", "The capital of Italy is"}, {"", " Rome."}}),
          sft({{"", "2 + 2 ="}, {"", " 4"}})}},
        {"prompt-completion-conversational.jsonl",
         "prompt-completion",
         {sft({{"user", "Capital of Spain?"}, {"assistant", "Madrid."}})}},
        {"prompts.jsonl",
         "prompts",
         {prompts({{"", "Tell me a joke."}}),
          prompts({{"system", "Be brief."}, {"user", "Why is the sea salty?"}})}},
    };
}

bool all_roleless(const std::vector<Record>& rs) {
    for (const Record& r : rs)
        for (const Messages* ms :
             {&r.pref.prompt, &r.pref.chosen, &r.pref.rejected, &r.sft.messages, &r.prompt.prompt})
            for (const Message& m : *ms)
                if (!m.role.empty()) return false;
    return true;
}

}  // namespace

class DataFormatsTest : public QObject {
    Q_OBJECT
  private Q_SLOTS:
    void importFixture_data() {
        QTest::addColumn<int>("index");
        auto cases = fixture_cases();
        for (size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].file) << int(i);
    }
    void importFixture() {
        QFETCH(int, index);
        const FixtureCase c = fixture_cases()[size_t(index)];
        Imported got = import_all(fixture(c.file));
        QCOMPARE(q(got.summary.format), QString::fromLatin1(c.format));
        QCOMPARE(describe_all(got.records), describe_all(c.records));
        QCOMPARE(got.summary.records_ok, uint64_t(c.records.size()));
        QCOMPARE(got.summary.records_skipped, uint64_t(0));
        for (const Record& r : got.records) QCOMPARE(q(r.format), QString::fromLatin1(c.format));
    }

    // import -> write (TRL JSONL) -> import gives the same content. Conversational style keeps
    // roles; standard style is exact for role-less records only (it has no roles to write).
    void roundTrip_data() { importFixture_data(); }
    void roundTrip() {
        QFETCH(int, index);
        const FixtureCase c = fixture_cases()[size_t(index)];
        Imported first = import_all(fixture(c.file));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        std::vector<ExportStyle> styles = {ExportStyle::Conversational};
        if (all_roleless(first.records)) styles.push_back(ExportStyle::Standard);
        for (ExportStyle style : styles) {
            std::string out = dir.filePath(QStringLiteral("out.jsonl")).toStdString();
            {
                rlhf::data::TrlJsonlWriter w(out, style);
                for (const Record& r : first.records) w.write(r);
                w.commit();
            }
            Imported second = import_all(out);
            QCOMPARE(describe_all(second.records), describe_all(first.records));
            QCOMPARE(second.summary.kind, first.summary.kind);
            for (size_t i = 0; i < first.records.size(); ++i)
                QCOMPARE(q(rlhf::data::content_hash(second.records[i])),
                         q(rlhf::data::content_hash(first.records[i])));
        }
    }

    // A JSON array larger than the reader's 1 MiB buffer, pretty-printed over 3 lines per element,
    // with escaped quotes and backslashes (an element's text is cut between buffer refills).
    void largeJsonArrayAcrossBuffers() {
        const int n = 30000;
        QTemporaryDir dir;
        std::string p = dir.filePath(QStringLiteral("big.json")).toStdString();
        {
            std::ofstream f(p, std::ios::binary);
            f << "[\n";
            for (int i = 0; i < n; ++i) {
                if (i) f << ",\n";
                if (i == n - 2)
                    f << "  {\n    \"text\": 17\n  }";  // wrong type, lines 3i+2 .. 3i+4
                else
                    f << "  {\n    \"text\": \"row " << i << " \\\"q\\\" \\\\\"\n  }";
            }
            f << "\n]\n";
        }
        Imported got = import_all(p);
        QCOMPARE(got.records.size(), size_t(n - 1));
        for (int i = 0, k = 0; i < n; ++i) {
            if (i == n - 2) continue;
            const Record& r = got.records[size_t(k++)];
            QCOMPARE(r.line, uint64_t(i + 1));
            QCOMPARE(q(r.sft.messages.at(0).content), QStringLiteral("row %1 \"q\" \\").arg(i));
        }
        QCOMPARE(issue_list(got.summary), QStringLiteral("%1:wrong type").arg(n - 1));
        // "[" is line 1; element i opens on line 3i + 2.
        QCOMPARE(got.summary.issues.at(0).file_line, uint64_t(3 * (n - 2) + 2));
    }

    void writerUncommittedLeavesNoFile() {
        QTemporaryDir dir;
        std::string out = dir.filePath(QStringLiteral("never.jsonl")).toStdString();
        {
            rlhf::data::TrlJsonlWriter w(out, ExportStyle::Standard);
            w.write(expected_trl_preference()[0]);
        }
        QVERIFY(!QFile::exists(q(out)));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 0);
    }

    void writerStandardLayout() {
        // The exact TRL rows: standard strings, implicit prompt left out, scores kept.
        QTemporaryDir dir;
        std::string out = dir.filePath(QStringLiteral("std.jsonl")).toStdString();
        {
            rlhf::data::TrlJsonlWriter w(out, ExportStyle::Standard);
            w.write(pref({{"", "P"}}, {{"", "C"}}, {{"", "R"}}, 1.5, std::nullopt));
            w.write(pref({}, {{"", "C"}}, {{"", "R"}}));
            w.write(sft({{"", "only text"}}));
            w.write(prompts({{"", "Q"}}));
            w.commit();
        }
        QFile f(q(out));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QString::fromUtf8(f.readAll()),
                 QStringLiteral(
                     "{\"chosen\":\"C\",\"prompt\":\"P\",\"rejected\":\"R\",\"score_chosen\":1.5}\n"
                     "{\"chosen\":\"C\",\"rejected\":\"R\"}\n"
                     "{\"text\":\"only text\"}\n"
                     "{\"prompt\":\"Q\"}\n"));
    }

    void contentHashKnownAnswer() {
        // Canonical JSON of a prompt record [{"", "hi"}] is
        // {"kind":"prompts","prompt":[["","hi"]]}; its SHA-256 from coreutils: printf '%s'
        // '{"kind":"prompts","prompt":[["","hi"]]}' | sha256sum
        Record r = prompts({{"", "hi"}});
        QCOMPARE(
            q(rlhf::data::content_hash(r)),
            QStringLiteral("8b0732306a0ec6bbc8e1bf6e14354b5cb6b87558bc78138ce403d6d2b73bc85c"));
    }

    // canonical_content_json is hand-written for speed; its bytes must equal what nlohmann's
    // dump() writes for the same object (the definition in records.h), for awkward text too.
    void canonicalJsonMatchesNlohmann() {
        const std::string awkward = std::string("q\"b\\s/ \x01\x1f\x7f tab\t nl\n cr\r ff\f bs\b ") +
                                    "\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA8 end";
        std::vector<Record> records = {
            pref({{"user", awkward}}, {{"assistant", "a"}, {"user", ""}}, {{"", awkward}}, 0.1, -3e300),
            pref({}, {{"", "c"}}, {{"", "r"}}, std::nullopt, 7.0),
            sft({{"system", awkward}, {"assistant", std::string("nul\0inside", 11)}}),
            prompts({}),
        };
        auto msgs = [](const Messages& ms) {
            nlohmann::json a = nlohmann::json::array();
            for (const Message& m : ms) a.push_back(nlohmann::json::array({m.role, m.content}));
            return a;
        };
        auto score = [](const std::optional<double>& d) { return d ? nlohmann::json(*d) : nlohmann::json(); };
        for (const Record& r : records) {
            nlohmann::json c;
            c["kind"] = rlhf::data::record_kind_name(r.kind);
            if (r.kind == RecordKind::Preference) {
                c["prompt"] = msgs(r.pref.prompt);
                c["chosen"] = msgs(r.pref.chosen);
                c["rejected"] = msgs(r.pref.rejected);
                c["score_chosen"] = score(r.pref.score_chosen);
                c["score_rejected"] = score(r.pref.score_rejected);
            } else if (r.kind == RecordKind::Sft) {
                c["messages"] = msgs(r.sft.messages);
            } else {
                c["prompt"] = msgs(r.prompt.prompt);
            }
            const std::string expected = c.dump(-1, ' ', false);
            QCOMPARE(q(rlhf::data::canonical_content_json(r)), q(expected));
            QCOMPARE(q(rlhf::data::content_hash(r)), q(rlhf::io::sha256_hex(expected)));
        }
        // Invalid UTF-8 (a record built outside the importers) is hashed with U+FFFD in its place.
        Record bad = prompts({{"user", "x\xFFy"}});
        QCOMPARE(q(rlhf::data::canonical_content_json(bad)),
                 q(std::string("{\"kind\":\"prompts\",\"prompt\":[[\"user\",\"x\xEF\xBF\xBDy\"]]}")));
    }

    void contentHashIgnoresProvenance() {
        Imported a = import_all(fixture("hh-rlhf.jsonl"));
        Imported b = import_all(fixture("hh-rlhf.json"));
        QCOMPARE(a.records.size(), size_t(2));
        QCOMPARE(b.records.size(), size_t(2));
        for (size_t i = 0; i < 2; ++i)
            QCOMPARE(q(content_hash(a.records[i])), q(content_hash(b.records[i])));
        Record r = a.records[0];
        r.format = "other";
        r.line = 999;
        QCOMPARE(q(content_hash(r)), q(content_hash(a.records[0])));
        // Content does matter: a role, a score, the kind each change the hash.
        Record role = r;
        role.pref.prompt[0].role = "system";
        QVERIFY(content_hash(role) != content_hash(r));
        Record scored = r;
        scored.pref.score_chosen = 1.0;
        QVERIFY(content_hash(scored) != content_hash(r));
        QVERIFY(content_hash(prompts({{"", "x"}})) != content_hash(sft({{"", "x"}})));
        QVERIFY(content_hash(a.records[0]) != content_hash(a.records[1]));
    }

    void formatNames() {
        std::vector<std::string> names = rlhf::data::import_format_names();
        QCOMPARE(names.size(), size_t(11));
        for (const std::string& n : names) {
            auto f = rlhf::data::format_from_name(n);
            QVERIFY(f.has_value());
            QCOMPARE(q(rlhf::data::format_name(*f)), q(n));
        }
    }

    void forcedFormat() {
        // trl-preference-implicit.jsonl forced as hh-rlhf: the strings hold no transcript.
        rlhf::data::ImportOptions o;
        o.format = "hh-rlhf";
        Imported got = import_all(fixture("trl-preference-implicit.jsonl"), o);
        QCOMPARE(got.summary.format, std::string("hh-rlhf"));
        QCOMPARE(got.summary.records_ok, uint64_t(0));
        QCOMPARE(got.summary.records_skipped, uint64_t(1));
    }

    void asPromptsFromPreference() {
        rlhf::data::ImportOptions o;
        o.as = RecordKind::Prompt;
        Imported got = import_all(fixture("hh-rlhf.jsonl"), o);
        QCOMPARE(got.summary.kind, RecordKind::Prompt);
        QCOMPARE(describe_all(got.records),
                 describe_all({prompts({{"user", "What is a good name for a cat?"}}),
                               prompts({{"user", "Hi"},
                                        {"assistant", "Hello! How can I help?"},
                                        {"user", "Tell me a fact."}})}));
    }

    void asSftFromPreference() {
        rlhf::data::ImportOptions o;
        o.as = RecordKind::Sft;
        Imported got = import_all(fixture("ultrafeedback.jsonl"), o);
        QCOMPARE(describe_all(got.records),
                 describe_all({sft({{"user", "Name a prime."}, {"assistant", "7"}})}));
    }

    void asPromptsFromSft() {
        // The turns before the last assistant turn.
        rlhf::data::ImportOptions o;
        o.as = RecordKind::Prompt;
        Imported got = import_all(fixture("messages.jsonl"), o);
        QCOMPARE(
            describe_all(got.records),
            describe_all({prompts({{"system", "You are terse."}, {"user", "Hello"}}),
                          prompts({{"user", "1+1?"}, {"assistant", "2"}, {"user", "Times 3?"}})}));
    }
};

QTEST_APPLESS_MAIN(DataFormatsTest)
#include "test_formats.moc"
