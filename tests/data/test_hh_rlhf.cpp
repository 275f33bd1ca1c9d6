// HH-RLHF transcript parsing and the prompt/response split, on hand-written transcripts. The
// expected turns are written out from reading each transcript: "\n\nHuman:" opens a user turn,
// "\n\nAssistant:" an assistant turn, contents are trimmed, and the prompt is the longest common
// prefix of the two turn lists (shortened so each response keeps a turn).
#include <QtTest>

#include "core/data/formats.h"
#include "core/data/record_error.h"
#include "data/data_test_util.h"

using namespace data_test;
using rlhf::data::parse_hh_transcript;

namespace {

Record split(const std::string& chosen, const std::string& rejected) {
    nlohmann::json o = {{"chosen", chosen}, {"rejected", rejected}};
    return rlhf::data::map_record(rlhf::data::Format::HhRlhf, o);
}

}  // namespace

class DataHhRlhfTest : public QObject {
    Q_OBJECT
  private Q_SLOTS:
    void parseSingleTurn() {
        QCOMPARE(q(describe(parse_hh_transcript("\n\nHuman: What is 2+2?\n\nAssistant: 4"))),
                 q(describe(Messages{{"user", "What is 2+2?"}, {"assistant", "4"}})));
    }

    void parseKeepsInnerNewlines() {
        // A blank line inside a turn is content unless "Human:"/"Assistant:" follows it.
        Messages got = parse_hh_transcript(
            "\n\nHuman: Write two lines.\n\nAssistant: Roses are red.\n\nViolets are "
            "blue.\n\nHuman: Thanks!\n\nAssistant:");
        QCOMPARE(q(describe(got)),
                 q(describe(Messages{{"user", "Write two lines."},
                                     {"assistant", "Roses are red.\n\nViolets are blue."},
                                     {"user", "Thanks!"},
                                     {"assistant", ""}})));
    }

    void parseWithoutLeadingNewlines() {
        QCOMPARE(q(describe(parse_hh_transcript("Human: hi\n\nAssistant: hello"))),
                 q(describe(Messages{{"user", "hi"}, {"assistant", "hello"}})));
    }

    void parseRejectsNoMarkers() {
        QVERIFY_THROWS_EXCEPTION(rlhf::data::RecordError, parse_hh_transcript("just some text"));
        QVERIFY_THROWS_EXCEPTION(rlhf::data::RecordError, parse_hh_transcript(""));
    }

    void parseRejectsTextBeforeFirstTurn() {
        QVERIFY_THROWS_EXCEPTION(rlhf::data::RecordError,
                                 parse_hh_transcript("Preamble.\n\nHuman: hi\n\nAssistant: a"));
    }

    void splitSingleTurn() {
        Record r = split("\n\nHuman: Name a color.\n\nAssistant: Blue.",
                         "\n\nHuman: Name a color.\n\nAssistant: No.");
        QCOMPARE(q(describe(r)),
                 q(describe(pref({{"user", "Name a color."}}, {{"assistant", "Blue."}},
                                 {{"assistant", "No."}}))));
    }

    void splitMultiTurnLastAssistantDiffers() {
        // The first three turns (Human, Assistant, Human) are shared; the last assistant turns
        // differ.
        const std::string shared =
            "\n\nHuman: I want to bake bread.\n\nAssistant: Great! Do you have yeast?\n\nHuman: "
            "Yes, dry yeast.";
        Record r = split(shared + "\n\nAssistant: Then proof it in warm water first.",
                         shared + "\n\nAssistant: Bread is bad for you.");
        QCOMPARE(q(describe(r)),
                 q(describe(pref({{"user", "I want to bake bread."},
                                  {"assistant", "Great! Do you have yeast?"},
                                  {"user", "Yes, dry yeast."}},
                                 {{"assistant", "Then proof it in warm water first."}},
                                 {{"assistant", "Bread is bad for you."}}))));
    }

    void splitDivergesEarly() {
        // The conversations part after the first assistant turn; the chosen one goes on for two
        // more turns. The prompt is the one shared turn; each response keeps all its own turns.
        Record r = split(
            "\n\nHuman: Hi\n\nAssistant: Hello! What do you need?\n\nHuman: A joke.\n\nAssistant: "
            "Why did the chicken...",
            "\n\nHuman: Hi\n\nAssistant: Go away.");
        QCOMPARE(q(describe(r)), q(describe(pref({{"user", "Hi"}},
                                                 {{"assistant", "Hello! What do you need?"},
                                                  {"user", "A joke."},
                                                  {"assistant", "Why did the chicken..."}},
                                                 {{"assistant", "Go away."}}))));
    }

    void splitChosenIsPrefixOfRejected() {
        // chosen = [H1, A1], rejected = [H1, A1, H2, A2]: the common prefix is all of chosen, so it
        // is shortened by one turn to leave chosen its last turn.
        Record r = split("\n\nHuman: Q\n\nAssistant: A",
                         "\n\nHuman: Q\n\nAssistant: A\n\nHuman: More?\n\nAssistant: No.");
        QCOMPARE(q(describe(r)),
                 q(describe(pref({{"user", "Q"}}, {{"assistant", "A"}},
                                 {{"assistant", "A"}, {"user", "More?"}, {"assistant", "No."}}))));
    }

    void splitIdenticalKeepsLastTurn() {
        // Identical transcripts: both responses are the last turn (import then drops the pair).
        Record r = split("\n\nHuman: Q\n\nAssistant: A", "\n\nHuman: Q\n\nAssistant: A");
        QCOMPARE(q(describe(r)),
                 q(describe(pref({{"user", "Q"}}, {{"assistant", "A"}}, {{"assistant", "A"}}))));
    }

    void splitDivergesOnHumanTurn() {
        // The last human turn differs (as in some HH rows): the prompt stops before it.
        Record r =
            split("\n\nHuman: Q\n\nAssistant: A\n\nHuman: Thanks\n\nAssistant: You're welcome",
                  "\n\nHuman: Q\n\nAssistant: A\n\nHuman: Bye\n\nAssistant: Bye");
        QCOMPARE(q(describe(r)),
                 q(describe(pref({{"user", "Q"}, {"assistant", "A"}},
                                 {{"user", "Thanks"}, {"assistant", "You're welcome"}},
                                 {{"user", "Bye"}, {"assistant", "Bye"}}))));
    }

    void splitPreferenceWithExplicitPrompt() {
        // UltraFeedback shape: the explicit prompt repeated at the start of both lists is taken
        // off.
        rlhf::data::PreferencePair p;
        rlhf::data::split_preference({{"user", "P"}}, {{"user", "P"}, {"assistant", "good"}},
                                     {{"user", "P"}, {"assistant", "bad"}}, p);
        QCOMPARE(q(describe(p.prompt)), QStringLiteral("[user:P]"));
        QCOMPARE(q(describe(p.chosen)), QStringLiteral("[assistant:good]"));
        QCOMPARE(q(describe(p.rejected)), QStringLiteral("[assistant:bad]"));
        // Not repeated: the lists are the responses, and the prompt stays as given.
        rlhf::data::split_preference({{"user", "P"}}, {{"assistant", "good"}},
                                     {{"assistant", "bad"}}, p);
        QCOMPARE(q(describe(p.prompt)), QStringLiteral("[user:P]"));
        QCOMPARE(q(describe(p.chosen)), QStringLiteral("[assistant:good]"));
    }

    void promptFieldIsMismatch() {
        nlohmann::json o = {{"prompt", "p"},
                            {"chosen", "\n\nHuman: a\n\nAssistant: b"},
                            {"rejected", "\n\nHuman: a\n\nAssistant: c"}};
        try {
            rlhf::data::map_record(rlhf::data::Format::HhRlhf, o);
            QFAIL("expected RecordError");
        } catch (const rlhf::data::RecordError& e) {
            QCOMPARE(q(e.category()), QString::fromLatin1(rlhf::data::kIssueFormatMismatch));
        }
    }
};

QTEST_APPLESS_MAIN(DataHhRlhfTest)
#include "test_hh_rlhf.moc"
