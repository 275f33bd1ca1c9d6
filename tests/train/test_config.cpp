// Tests of core/train/config: the bundled example configs parse, unknown keys and bad values are
// rejected with the key path and the line, and a written config reads back to the same values.
#include <QtTest/QtTest>

#include <string>

#include "core/io/error.h"
#include "core/train/config.h"

using namespace rlhf::train;

namespace {
// The message of the rlhf::Error parse_train_config throws, or "" when it does not throw.
std::string parse_error(const std::string& yaml) {
    try {
        parse_train_config(yaml, "t.yaml");
    } catch (const rlhf::Error& e) {
        return e.what();
    }
    return "";
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
const std::string kMinimal = "algo: sft\nmodel:\n  policy: m\ndata:\n  file: d.jsonl\n";
}  // namespace

class ConfigTest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void example_configs_parse() {
        const std::string dir = std::string(RLHF_SOURCE_DIR) + "/resources/configs/";
        auto sft = load_train_config(dir + "sft.yaml");
        QVERIFY(sft.algo == Algo::Sft);
        QCOMPARE(sft.optimizer.lr, 2.0e-5);
        QVERIFY(sft.schedule.type == LrSchedule::Cosine);
        QCOMPARE(sft.grad_accum, int64_t(2));
        auto rm = load_train_config(dir + "rm.yaml");
        QVERIFY(rm.algo == Algo::Rm);
        QCOMPARE(rm.data.eval_fraction, 0.1);
        auto dpo = load_train_config(dir + "dpo.yaml");
        QVERIFY(dpo.algo == Algo::Dpo);
        QVERIFY(dpo.lora.enabled);
        QCOMPARE(dpo.lora.targets.size(), size_t(4));
        QCOMPARE(dpo.dpo.beta, 0.1);
        auto ppo = load_train_config(dir + "ppo.yaml");
        QVERIFY(ppo.algo == Algo::Ppo);
        QVERIFY(ppo.ppo.adaptive_kl);
        QCOMPARE(ppo.ppo.minibatches, int64_t(2));
        QCOMPARE(ppo.guards.kl_stop, 20.0);
        auto grpo = load_train_config(dir + "grpo.yaml");
        QVERIFY(grpo.algo == Algo::Grpo);
        QCOMPARE(grpo.grpo.group_size, int64_t(8));
        auto chat = load_train_config(dir + "sft-chat.yaml");
        QVERIFY(chat.data.chat_template == ChatTemplateMode::Model);
        auto rules = load_train_config(dir + "ppo-rules.yaml");
        QCOMPARE(rules.reward.rules.size(), size_t(5));
        QVERIFY(rules.reward.rules[4].type == RuleType::Sentiment);
        auto verifiable = load_train_config(dir + "grpo-verifiable.yaml");
        QVERIFY(verifiable.reward.rules[0].type == RuleType::ExactAnswer);
        QCOMPARE(verifiable.reward.rules[0].field, std::string("answer"));
    }

    void defaults_when_absent() {
        auto c = parse_train_config(kMinimal, "t.yaml");
        TrainConfig d;
        QCOMPARE(c.optimizer.lr, d.optimizer.lr);
        QCOMPARE(c.batch_size, d.batch_size);
        QCOMPARE(c.seed, int64_t(42));
        QCOMPARE(c.model.policy, std::string("m"));
    }

    void unknown_key_names_path_and_line() {
        // kMinimal has 5 lines, so "lrr" (inside optimizer) is at line 7, column 3
        auto err = parse_error(kMinimal + "optimizer:\n  lrr: 0.1\n");
        QVERIFY2(contains(err, "t.yaml:7:3: optimizer.lrr: unknown key"), err.c_str());
        auto top = parse_error(kMinimal + "batchsize: 4\n");
        QVERIFY2(contains(top, "t.yaml:6:1: batchsize: unknown key"), top.c_str());
    }

    void bad_values_name_path_and_line() {
        auto type = parse_error(kMinimal + "batch_size: four\n");
        QVERIFY2(contains(type, "t.yaml:6:13: batch_size: expected an integer"), type.c_str());
        auto frac = parse_error(kMinimal + "batch_size: 2.5\n");
        QVERIFY2(contains(frac, "batch_size: expected an integer"), frac.c_str());
        auto en = parse_error(kMinimal + "schedule:\n  type: exponential\n");
        QVERIFY2(contains(en, "t.yaml:7:9: schedule.type: unknown value 'exponential'"), en.c_str());
        auto range = parse_error(kMinimal + "optimizer:\n  lr: -1\n");
        QVERIFY2(contains(range, "t.yaml:7:7: optimizer.lr: must be > 0"), range.c_str());
        auto grpo = parse_error("algo: grpo\nmodel: {policy: m}\ndata: {file: d}\ngrpo:\n  group_size: 1\n");
        QVERIFY2(contains(grpo, "t.yaml:5:15: grpo.group_size"), grpo.c_str());
        auto missing = parse_error("algo: sft\ndata: {file: d}\n");
        QVERIFY2(contains(missing, "model.policy: required"), missing.c_str());
        auto no_algo = parse_error("model: {policy: m}\n");
        QVERIFY2(contains(no_algo, "algo: required"), no_algo.c_str());
        auto syntax = parse_error("algo: [sft\n");
        QVERIFY2(contains(syntax, "t.yaml:"), syntax.c_str());
        auto ppo_mb = parse_error("algo: ppo\nmodel: {policy: m}\ndata: {file: d}\nbatch_size: 6\nppo: {minibatches: 4}\n");
        QVERIFY2(contains(ppo_mb, "ppo.minibatches"), ppo_mb.c_str());
    }

    void reward_rules_parse() {
        auto c = parse_train_config("algo: grpo\nmodel: {policy: m}\ndata: {file: d.jsonl, chat_template: none}\n"
                                    "reward:\n  model_weight: 0.5\n  rules:\n"
                                    "    - {type: regex, pattern: 'gr(e)at', match: false, weight: 2}\n"
                                    "    - {type: length, target: 20, unit: chars}\n"
                                    "    - {type: contains_any, words: [love, great], weight: 0.5}\n"
                                    "    - {type: exact_answer, field: answer, pattern: 'answer: (\\d+)'}\n"
                                    "    - {type: sentiment, weight: -1}\n",
                                    "t.yaml");
        QVERIFY(c.data.chat_template == ChatTemplateMode::None);
        QCOMPARE(c.reward.model_weight, 0.5);
        QCOMPARE(c.reward.rules.size(), size_t(5));
        QVERIFY(c.reward.rules[0].type == RuleType::Regex && !c.reward.rules[0].match);
        QCOMPARE(c.reward.rules[0].weight, 2.0);
        QCOMPARE(c.reward.rules[0].line, int64_t(7));
        QVERIFY(c.reward.rules[1].unit == LengthUnit::Chars);
        QCOMPARE(c.reward.rules[1].target, 20.0);
        QCOMPARE(c.reward.rules[1].weight, 1.0);  // default
        QCOMPARE(c.reward.rules[2].words, (std::vector<std::string>{"love", "great"}));
        QCOMPARE(c.reward.rules[3].field, std::string("answer"));
        QCOMPARE(c.reward.rules[3].pattern, std::string("answer: (\\d+)"));
        QVERIFY(c.reward.rules[4].type == RuleType::Sentiment);
        // Written back and read again: the same rules, the same text.
        auto yaml = train_config_to_yaml(c);
        auto back = parse_train_config(yaml, "w.yaml");
        QCOMPARE(back.reward.rules.size(), size_t(5));
        QCOMPARE(back.reward.rules[3].pattern, c.reward.rules[3].pattern);
        QCOMPARE(back.reward.rules[2].words, c.reward.rules[2].words);
        QCOMPARE(train_config_to_yaml(back), yaml);
    }

    void bad_rules_name_rule_and_line() {
        const std::string head = "algo: ppo\nmodel: {policy: m}\ndata: {file: d}\nreward:\n  rules:\n";  // rules at line 6
        auto type = parse_error(head + "    - {type: regexp, pattern: a}\n");
        QVERIFY2(contains(type, "t.yaml:6:14: reward.rules[0].type: unknown value 'regexp'"), type.c_str());
        auto no_type = parse_error(head + "    - {pattern: a}\n");
        QVERIFY2(contains(no_type, "t.yaml:6:7: reward.rules[0].type: required"), no_type.c_str());
        auto regex = parse_error(head + "    - {type: length, target: 3}\n    - {type: regex, pattern: 'a(b'}\n");
        QVERIFY2(contains(regex, "t.yaml:7:30: reward.rules[1].pattern: bad regular expression"), regex.c_str());
        auto misplaced = parse_error(head + "    - type: regex\n      pattern: a\n      target: 3\n");
        QVERIFY2(contains(misplaced, "t.yaml:8:7: reward.rules[0].target: unknown key"), misplaced.c_str());
        auto words = parse_error(head + "    - {type: contains_any}\n");
        QVERIFY2(contains(words, "t.yaml:6:7: reward.rules[0].words: required"), words.c_str());
        auto field = parse_error(head + "    - {type: exact_answer}\n");
        QVERIFY2(contains(field, "reward.rules[0].field: required"), field.c_str());
        auto groups = parse_error(head + "    - {type: exact_answer, field: a, pattern: '(a)(b)'}\n");
        QVERIFY2(contains(groups, "reward.rules[0].pattern: at most one capture group"), groups.c_str());
        auto target = parse_error(head + "    - {type: length, target: -1}\n");
        QVERIFY2(contains(target, "t.yaml:6:30: reward.rules[0].target: must be >= 0"), target.c_str());
        auto list = parse_error("algo: ppo\nmodel: {policy: m}\ndata: {file: d}\nreward: {rules: {type: regex}}\n");
        QVERIFY2(contains(list, "t.yaml:4:17: reward.rules: expected a list"), list.c_str());
        auto mode = parse_error(kMinimal.substr(0, kMinimal.size()) + "  chat_template: jinja\n");
        QVERIFY2(contains(mode, "t.yaml:6:18: data.chat_template: unknown value 'jinja'"), mode.c_str());
    }

    void round_trip() {
        TrainConfig c = load_train_config(std::string(RLHF_SOURCE_DIR) + "/resources/configs/ppo.yaml");
        c.optimizer.lr = 3.0e-6 / 7.0;  // a value with no short decimal form
        c.lora.targets = {"q_proj", "o_proj"};
        c.name = "with: colon";
        std::string yaml = train_config_to_yaml(c);
        TrainConfig back = parse_train_config(yaml, "written.yaml");
        QCOMPARE(back.optimizer.lr, c.optimizer.lr);  // exact: shortest round-trip decimal
        QCOMPARE(back.name, c.name);
        QCOMPARE(back.lora.targets, c.lora.targets);
        QCOMPARE(back.ppo.kl_horizon, c.ppo.kl_horizon);
        QCOMPARE(back.ppo.adaptive_kl, c.ppo.adaptive_kl);
        QVERIFY(back.algo == c.algo);
        // Writing what was read gives the same text: every field survives the trip.
        QCOMPARE(train_config_to_yaml(back), yaml);
    }
};

QTEST_APPLESS_MAIN(ConfigTest)
#include "test_config.moc"
