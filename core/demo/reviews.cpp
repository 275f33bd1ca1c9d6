#include "core/demo/reviews.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace rlhf::demo {

// ---------------------------------------------------------------------------------------------
// Word lists. Every sentiment word the generator writes is in the judge's lexicon, so the judge
// agrees with the generator's label on generated text (tests/demo checks this).

namespace {

const std::vector<std::string> kProducts = {
    "blender", "lamp", "backpack", "kettle", "keyboard", "jacket", "tent", "phone case",
    "coffee maker", "desk chair", "water bottle", "toaster", "umbrella", "speaker", "mattress",
    "headphones", "frying pan", "vacuum", "monitor", "watch", "bike helmet", "rice cooker",
    "printer", "suitcase"};
const std::vector<std::string> kAspects = {
    "battery", "design", "price", "build quality", "sound", "handle", "size", "color",
    "delivery", "instructions", "material", "weight", "finish", "lid", "strap", "cable"};
const std::vector<std::string> kPositive = {
    "great", "excellent", "wonderful", "perfect", "sturdy", "reliable", "comfortable",
    "beautiful", "fantastic", "solid", "amazing", "lovely", "good", "pleasant", "impressive",
    "quiet", "fast", "brilliant", "superb", "handy"};
const std::vector<std::string> kNegative = {
    "terrible", "awful", "broken", "flimsy", "useless", "disappointing", "cheap", "noisy",
    "horrible", "poor", "bad", "slow", "fragile", "annoying", "defective", "ugly", "weak",
    "faulty", "mediocre", "uncomfortable"};
const std::vector<std::string> kPosVerbs = {"love", "recommend", "enjoy", "like", "adore"};
const std::vector<std::string> kNegVerbs = {"hate", "regret", "returned", "dislike"};
const std::vector<std::string> kOpenings = {
    "The {p} I bought last week", "My new {p}", "This {p}", "I ordered the {p} and",
    "After a month with this {p},", "The {p} arrived and", "I got this {p} as a gift and",
    "Honestly, the {p}", "We have used the {p} daily and", "Our {p}"};
const std::vector<std::string> kIntensifiers = {"really", "very", "truly", "quite", "so"};

// splitmix64: a tiny, fully specified generator, so the corpus is identical everywhere.
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % n); }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
    const std::string& pick(const std::vector<std::string>& v) { return v[below(v.size())]; }
};

std::string fill(std::string pattern, const std::string& product) {
    size_t at = pattern.find("{p}");
    if (at != std::string::npos) pattern.replace(at, 3, product);
    return pattern;
}

std::string positive_sentence(Rng& rng, const std::string& product) {
    switch (rng.below(5)) {
        case 0: return "The " + rng.pick(kAspects) + " is " + rng.pick(kIntensifiers) + " " + rng.pick(kPositive) + ".";
        case 1: return "I " + rng.pick(kPosVerbs) + " it.";
        case 2: return "It feels " + rng.pick(kPositive) + " and " + rng.pick(kPositive) + ".";
        case 3: return "A " + rng.pick(kPositive) + " " + product + " for the money.";
        default: return "Would buy again, " + rng.pick(kPositive) + " " + rng.pick(kAspects) + ".";
    }
}

std::string negative_sentence(Rng& rng, const std::string& product) {
    switch (rng.below(5)) {
        case 0: return "The " + rng.pick(kAspects) + " is " + rng.pick(kIntensifiers) + " " + rng.pick(kNegative) + ".";
        case 1: return "I " + rng.pick(kNegVerbs) + " it.";
        case 2: return "It feels " + rng.pick(kNegative) + " and " + rng.pick(kNegative) + ".";
        case 3: return "A " + rng.pick(kNegative) + " " + product + " for the money.";
        default: return "Never again, " + rng.pick(kNegative) + " " + rng.pick(kAspects) + ".";
    }
}

// The opening is shared by prompts and reviews; its first clause carries the sentiment.
std::string opening_clause(Rng& rng, bool positive) {
    return positive ? "it is " + rng.pick(kPositive) + "." : "it is " + rng.pick(kNegative) + ".";
}

std::string lower_word(const std::string& w) {
    std::string out;
    for (char c : w)
        if (std::isalpha(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

const std::unordered_map<std::string, int>& lexicon() {
    static const std::unordered_map<std::string, int> table = [] {
        std::unordered_map<std::string, int> t;
        for (const auto& w : kPositive) t[w] = 1;
        for (const auto& w : kPosVerbs) t[w] = 1;
        for (const auto& w : kNegative) t[w] = -1;
        for (const auto& w : kNegVerbs) t[w] = -1;
        return t;
    }();
    return table;
}

}  // namespace

std::vector<Review> generate_reviews(const CorpusOptions& options) {
    Rng rng{options.seed};
    std::vector<Review> out;
    out.reserve(options.reviews);
    const double neg_cut = options.positive_fraction + (1.0 - options.positive_fraction) * (2.0 / 3.0);
    for (size_t i = 0; i < options.reviews; ++i) {
        const std::string& product = rng.pick(kProducts);
        double u = rng.uniform();
        Sentiment s = u < options.positive_fraction ? Sentiment::Positive
                      : u < neg_cut                 ? Sentiment::Negative
                                                    : Sentiment::Mixed;
        std::string text = fill(rng.pick(kOpenings), product) + " ";
        size_t sentences = 1 + rng.below(3);
        if (s == Sentiment::Mixed) {
            // one of each, and the judge calls it by count: keep them balanced (a tie)
            text += opening_clause(rng, true) + " " + negative_sentence(rng, product);
            if (sentences > 1) text += " " + positive_sentence(rng, product) + " " + negative_sentence(rng, product);
        } else {
            bool pos = s == Sentiment::Positive;
            text += opening_clause(rng, pos);
            for (size_t k = 0; k < sentences; ++k)
                text += " " + (pos ? positive_sentence(rng, product) : negative_sentence(rng, product));
        }
        out.push_back({std::move(text), s});
    }
    return out;
}

std::vector<std::string> generate_prompts(uint64_t seed, size_t count, bool held_out) {
    // Held-out prompts use the products with odd index; training prompts the even ones.
    Rng rng{seed ^ (held_out ? 0x5bd1e995ULL : 0x27d4eb2dULL)};
    std::vector<std::string> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        size_t p = 2 * rng.below(kProducts.size() / 2) + (held_out ? 1 : 0);
        out.push_back(fill(rng.pick(kOpenings), kProducts[p]));
    }
    return out;
}

Judgement judge_sentiment(const std::string& text) {
    Judgement j;
    int negate_window = 0;  // words left in which a sentiment word is flipped
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (start == i) break;
        std::string w = lower_word(text.substr(start, i - start));
        if (w == "not" || w == "never" || w == "hardly" || w == "isnt" || w == "wasnt") {
            // "Never again, <negative>" is emphasis, not negation: only flip positive words.
            negate_window = 2;
            continue;
        }
        auto it = lexicon().find(w);
        if (it != lexicon().end()) {
            int v = it->second;
            if (negate_window > 0 && v > 0) v = -v;
            (v > 0 ? j.positive_hits : j.negative_hits) += 1;
            negate_window = 0;
        } else if (negate_window > 0) {
            --negate_window;
        }
    }
    return j;
}

int judge_preference(const std::string& a, const std::string& b) {
    double sa = judge_sentiment(a).score(), sb = judge_sentiment(b).score();
    return sa > sb ? 1 : sa < sb ? -1 : 0;
}

}  // namespace rlhf::demo
