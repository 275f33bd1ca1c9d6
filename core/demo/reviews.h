// The embedded demo's world: a seeded generator of short product reviews of mixed sentiment, the
// prompts the policy continues, and a sentiment-lexicon judge that stands in for a human
// annotator (and for the PPO reward's ground truth). Nothing here is downloaded: the whole demo
// is built from this file's word lists.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rlhf::demo {

enum class Sentiment { Negative = -1, Mixed = 0, Positive = 1 };

struct Review {
    std::string text;
    Sentiment sentiment;
};

struct CorpusOptions {
    uint64_t seed = 1234;           // same seed -> byte-identical corpus
    size_t reviews = 20000;         // ~100 bytes each
    double positive_fraction = 0.4; // the rest split between negative (0.4) and mixed (0.2)
};

// Deterministic across runs and machines (own RNG arithmetic, no std:: distributions).
std::vector<Review> generate_reviews(const CorpusOptions& options);

// Review openings ("The blender I bought last week") the policy continues. `held_out` draws from
// a disjoint set of product/opening combinations than the training prompts.
std::vector<std::string> generate_prompts(uint64_t seed, size_t count, bool held_out);

struct Judgement {
    int positive_hits = 0;  // lexicon words counted positive (after negation)
    int negative_hits = 0;
    double score() const { return positive_hits - negative_hits; }
    bool is_positive() const { return positive_hits > negative_hits; }
};

// Lexicon judge: counts positive and negative words; "not"/"never"/"hardly" flip the next
// sentiment word within two words. Case-insensitive, punctuation-insensitive.
Judgement judge_sentiment(const std::string& text);

// Simulated annotator: of two responses prefers the one the judge scores higher; equal scores
// are a tie. Returns +1 (A), -1 (B) or 0 (tie).
int judge_preference(const std::string& a, const std::string& b);

}  // namespace rlhf::demo
