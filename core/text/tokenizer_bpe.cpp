// The BPE model of tokenizer.json (tokenizers/src/models/bpe): vocab, merges as a rank table,
// byte fallback, unk fusing, continuing-subword prefix / end-of-word suffix, ignore_merges.
//
// Merge order is tokenizers' Word::merge_all: repeatedly apply the lowest-rank pair, leftmost
// first among equal ranks. Short words (the common case after byte-level pre-tokenization) use a
// flat array with cached pair ranks; long ones (SentencePiece-style models without a
// pre-tokenizer see whole sentences) use tokenizers' lazy-deletion min-heap, O(n log n).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <queue>

#include <nlohmann/json.hpp>

#include "core/text/tokenizer_internal.h"

namespace rlhf::text::detail {

namespace {

// Open-addressing hash table (pair of ids) -> (rank, new id); the merge loop's hot lookup.
class MergeMap {
public:
    struct Value {
        int32_t rank = -1;
        int32_t new_id = -1;
    };
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2) cap <<= 1;
        keys_.assign(cap, kEmpty);
        values_.assign(cap, Value{});
        mask_ = cap - 1;
    }
    void insert(int32_t a, int32_t b, Value v) {  // a later duplicate overwrites (HashMap collect)
        uint64_t key = pack(a, b);
        size_t i = hash(key) & mask_;
        while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
        keys_[i] = key;
        values_[i] = v;
    }
    const Value* find(int32_t a, int32_t b) const {
        uint64_t key = pack(a, b);
        size_t i = hash(key) & mask_;
        while (true) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == kEmpty) return nullptr;
            i = (i + 1) & mask_;
        }
    }

private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    static uint64_t pack(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
    static size_t hash(uint64_t k) {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        return static_cast<size_t>(k);
    }
    std::vector<uint64_t> keys_;
    std::vector<Value> values_;
    size_t mask_ = 0;
};

std::atomic<uint64_t> g_model_serial{1};

constexpr size_t kCacheMaxWordBytes = 256;   // tokenizers' MAX_LENGTH: longer words are not cached
constexpr size_t kCacheCapacity = 65536;     // words per model per thread; full -> no more inserts
constexpr size_t kSmallWord = 48;            // symbols; above this the heap merge loop is used

// Pre-token -> ids cache, one per thread and model (no locks). Open addressing over a flat slot
// array; keys and ids live in two pools, so a lookup touches one slot and two short runs.
class WordCache {
public:
    uint64_t serial = 0;  // the model it belongs to

    void reset(uint64_t model_serial) {
        serial = model_serial;
        slots_.assign(2 * kCacheCapacity, Slot{});
        keys_.clear();
        ids_.clear();
        count_ = 0;
    }
    // Appends the cached ids of word to out; false if absent.
    bool get(std::string_view word, uint64_t h, std::vector<int32_t>& out) const {
        for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
            const Slot& s = slots_[i];
            if (s.hash == 0) return false;
            if (s.hash == h && s.key_len == word.size() && std::memcmp(keys_.data() + s.key_off, word.data(), word.size()) == 0) {
                out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.ids_len);
                return true;
            }
        }
    }
    void put(std::string_view word, uint64_t h, const int32_t* ids, size_t n) {
        if (count_ >= kCacheCapacity) return;
        size_t i = h & (slots_.size() - 1);
        while (slots_[i].hash != 0) i = (i + 1) & (slots_.size() - 1);
        slots_[i] = Slot{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
                         static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(n)};
        keys_.append(word.data(), word.size());
        ids_.insert(ids_.end(), ids, ids + n);
        ++count_;
    }
    static uint64_t hash(std::string_view w) {
        uint64_t h = std::hash<std::string_view>()(w);
        return h == 0 ? 1 : h;  // 0 marks an empty slot
    }

private:
    struct Slot {
        uint64_t hash = 0;
        uint32_t key_off = 0, key_len = 0, ids_off = 0, ids_len = 0;
    };
    std::vector<Slot> slots_;
    std::string keys_;
    std::vector<int32_t> ids_;
    size_t count_ = 0;
};

}  // namespace

class BpeModel {
public:
    std::unordered_map<std::string, int32_t> vocab;
    std::vector<std::string> vocab_r;  // id -> token
    MergeMap merges;
    int32_t unk_id = -1;               // -1: no unk token
    std::string prefix, suffix;        // continuing_subword_prefix, end_of_word_suffix
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
    int32_t byte_ids[256];             // "<0xAB>" ids for byte fallback (-1 if absent)
    std::vector<int32_t> bmp_char_id;  // single-character tokens, U+0000..U+FFFF
    std::unordered_map<uint32_t, int32_t> astral_char_id;
    uint64_t serial = g_model_serial.fetch_add(1);

    struct Sym {
        int32_t id;
        int32_t prev, next;
        uint32_t len;  // bytes; 0 = merged away
    };

    int32_t char_id(uint32_t cp) const {
        if (cp < 0x10000) return bmp_char_id[cp];
        auto it = astral_char_id.find(cp);
        return it == astral_char_id.end() ? -1 : it->second;
    }
    int32_t lookup(std::string_view s) const {
        thread_local std::string key;
        key.assign(s.data(), s.size());
        auto it = vocab.find(key);
        return it == vocab.end() ? -1 : it->second;
    }

    // tokenizers' BPE::merge_word before merge_all: one symbol per character (with byte
    // fallback and unk handling).
    void initial_symbols(std::string_view w, std::vector<Sym>& syms) const {
        syms.clear();
        int32_t pending_unk = -1;
        uint32_t pending_len = 0;
        auto add = [&](int32_t id, uint32_t len) {
            syms.push_back({id, static_cast<int32_t>(syms.size()) - 1, static_cast<int32_t>(syms.size()) + 1, len});
        };
        const bool plain = prefix.empty() && suffix.empty();
        thread_local std::string s;
        for (size_t i = 0; i < w.size();) {
            uint32_t cp;
            size_t k = utf8_next(w, i, cp);
            int32_t id;
            if (plain) {
                id = char_id(cp);
            } else {
                s.clear();
                if (i != 0) s += prefix;
                s.append(w.data() + i, k);
                if (i + k == w.size()) s += suffix;
                id = lookup(s);
            }
            std::string_view chars = plain ? w.substr(i, k) : std::string_view(s);
            i += k;
            if (id >= 0) {
                if (pending_unk >= 0) {
                    add(pending_unk, pending_len);
                    pending_unk = -1;
                }
                add(id, static_cast<uint32_t>(k));
                continue;
            }
            if (byte_fallback) {
                bool all = true;
                for (char c : chars) all = all && byte_ids[static_cast<unsigned char>(c)] >= 0;
                if (all) {
                    for (char c : chars) add(byte_ids[static_cast<unsigned char>(c)], 1);
                    continue;
                }
            }
            if (unk_id >= 0) {
                if (pending_unk >= 0 && fuse_unk) {
                    pending_len += static_cast<uint32_t>(k);
                } else {
                    if (pending_unk >= 0) add(pending_unk, pending_len);
                    pending_unk = unk_id;
                    pending_len = static_cast<uint32_t>(k);
                }
            }
            // No unk token: the character is dropped, as tokenizers does.
        }
        if (pending_unk >= 0) add(pending_unk, pending_len);
        if (!syms.empty()) syms.back().next = -1;
    }

    void merge_small(std::vector<Sym>& syms) const {
        // ranks[i]: rank of the pair (syms[i], syms[i+1]), INT32_MAX if none.
        thread_local std::vector<int32_t> ranks, new_ids;
        size_t n = syms.size();
        ranks.resize(n);
        new_ids.resize(n);
        auto pair_rank = [&](size_t i) {
            const MergeMap::Value* v = merges.find(syms[i].id, syms[i + 1].id);
            ranks[i] = v ? v->rank : INT32_MAX;
            new_ids[i] = v ? v->new_id : -1;
        };
        for (size_t i = 0; i + 1 < n; ++i) pair_rank(i);
        while (n > 1) {
            size_t best = 0;
            for (size_t i = 1; i + 1 < n; ++i)
                if (ranks[i] < ranks[best]) best = i;
            if (ranks[best] == INT32_MAX) break;
            syms[best].id = new_ids[best];
            syms[best].len += syms[best + 1].len;
            syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best) + 1);
            ranks.erase(ranks.begin() + static_cast<std::ptrdiff_t>(best) + 1);
            new_ids.erase(new_ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
            --n;
            if (best + 1 < n) pair_rank(best);
            else ranks[best] = INT32_MAX;
            if (best > 0) pair_rank(best - 1);
        }
    }

    // tokenizers' Word::merge_all (without dropout), heap with lazy invalidation.
    void merge_heap(std::vector<Sym>& syms) const {
        struct Item {
            int32_t rank;
            int32_t pos;
            int32_t new_id;
            bool operator<(const Item& o) const {  // priority_queue is a max-heap: invert
                return rank != o.rank ? rank > o.rank : pos > o.pos;
            }
        };
        thread_local std::vector<Item> storage;
        storage.clear();
        std::priority_queue<Item, std::vector<Item>> queue(std::less<Item>(), std::move(storage));
        for (size_t i = 0; i + 1 < syms.size(); ++i)
            if (const auto* v = merges.find(syms[i].id, syms[i + 1].id))
                queue.push({v->rank, static_cast<int32_t>(i), v->new_id});
        while (!queue.empty()) {
            Item top = queue.top();
            queue.pop();
            auto pos = static_cast<size_t>(top.pos);
            if (syms[pos].len == 0 || syms[pos].next < 0) continue;
            auto next_pos = static_cast<size_t>(syms[pos].next);
            Sym right = syms[next_pos];
            const auto* v = merges.find(syms[pos].id, right.id);
            if (!v || v->new_id != top.new_id) continue;  // stale entry
            syms[pos].id = top.new_id;
            syms[pos].len += right.len;
            syms[pos].next = right.next;
            syms[next_pos].len = 0;
            if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = top.pos;
            const Sym& cur = syms[pos];
            if (cur.prev >= 0)
                if (const auto* pv = merges.find(syms[static_cast<size_t>(cur.prev)].id, cur.id))
                    queue.push({pv->rank, cur.prev, pv->new_id});
            if (cur.next >= 0)
                if (const auto* nv = merges.find(cur.id, syms[static_cast<size_t>(cur.next)].id))
                    queue.push({nv->rank, top.pos, nv->new_id});
        }
        syms.erase(std::remove_if(syms.begin(), syms.end(), [](const Sym& s) { return s.len == 0; }), syms.end());
    }

    void tokenize_uncached(std::string_view w, std::vector<int32_t>& out) const {
        thread_local std::vector<Sym> syms;
        initial_symbols(w, syms);
        if (syms.size() <= kSmallWord) merge_small(syms);
        else merge_heap(syms);
        for (const Sym& s : syms) out.push_back(s.id);
    }

    void tokenize(std::string_view w, std::vector<int32_t>& out) const {
        if (w.empty()) return;
        if (w.size() >= kCacheMaxWordBytes) {
            tokenize_word(w, out);
            return;
        }
        // A few models per thread (e.g. policy and reward tokenizers); the oldest is replaced.
        // The cache sits in front of ignore_merges' vocab lookup: both give the same ids.
        thread_local WordCache caches[4];
        thread_local size_t next_slot = 0;
        WordCache* cache = nullptr;
        for (auto& c : caches)
            if (c.serial == serial) cache = &c;
        if (!cache) {
            cache = &caches[next_slot];
            next_slot = (next_slot + 1) % 4;
            cache->reset(serial);
        }
        const uint64_t h = WordCache::hash(w);
        if (cache->get(w, h, out)) return;
        size_t before = out.size();
        tokenize_word(w, out);
        cache->put(w, h, out.data() + before, out.size() - before);
    }

    // tokenizers' BPE::tokenize without the cache.
    void tokenize_word(std::string_view w, std::vector<int32_t>& out) const {
        if (ignore_merges) {
            int32_t id = lookup(w);
            if (id >= 0) {
                out.push_back(id);
                return;
            }
        }
        tokenize_uncached(w, out);
    }
};

void BpeModelDeleter::operator()(BpeModel* m) const { delete m; }

BpeModelPtr make_bpe_model(const Json& j, const std::string& where) {
    BpeModelPtr m(new BpeModel());
    const Json& vocab = field(j, "vocab", where);
    if (!vocab.is_object()) fail(where + ".vocab", "expected an object {token: id}");
    m->vocab.reserve(vocab.size());
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer()) fail(where + ".vocab[\"" + it.key() + "\"]", "expected an integer id");
        int64_t id = it.value().get<int64_t>();
        if (id < 0 || id > INT32_MAX) fail(where + ".vocab[\"" + it.key() + "\"]", "id " + std::to_string(id) + " out of range");
        m->vocab.emplace(it.key(), static_cast<int32_t>(id));
        max_id = std::max(max_id, id);
    }
    // Ids index embedding rows: allow holes, not a sparse id space (it would be a huge table).
    if (max_id >= static_cast<int64_t>(2 * vocab.size() + 1024))
        fail(where + ".vocab", "id " + std::to_string(max_id) + " out of range for " + std::to_string(vocab.size()) + " entries");
    m->vocab_r.assign(static_cast<size_t>(max_id + 1), std::string());
    std::vector<uint8_t> seen(static_cast<size_t>(max_id + 1), 0);
    for (const auto& [tok, id] : m->vocab) {
        if (seen[static_cast<size_t>(id)])
            fail(where + ".vocab", "duplicate id " + std::to_string(id) + " ('" + tok + "' and '" +
                                       m->vocab_r[static_cast<size_t>(id)] + "')");
        seen[static_cast<size_t>(id)] = 1;
        m->vocab_r[static_cast<size_t>(id)] = tok;
    }

    if (j.contains("dropout") && !j["dropout"].is_null()) {
        if (!j["dropout"].is_number()) fail(where + ".dropout", "expected a number or null");
        if (j["dropout"].get<double>() != 0.0) fail(where + ".dropout", "BPE dropout is not supported (training-time only)");
    }
    std::string unk = get_string(j, "unk_token", where, "");
    if (!unk.empty()) {
        m->unk_id = m->lookup(unk);
        if (m->unk_id < 0) fail(where + ".unk_token", "'" + unk + "' is not in the vocab");
    }
    m->prefix = get_string(j, "continuing_subword_prefix", where, "");
    m->suffix = get_string(j, "end_of_word_suffix", where, "");
    m->fuse_unk = get_bool(j, "fuse_unk", where, false);
    m->byte_fallback = get_bool(j, "byte_fallback", where, false);
    m->ignore_merges = get_bool(j, "ignore_merges", where, false);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = m->lookup(name);
    }
    m->bmp_char_id.assign(0x10000, -1);
    for (const auto& [tok, id] : m->vocab) {
        if (tok.empty() || !utf8_valid(tok)) continue;
        uint32_t cp;
        if (utf8_next(tok, 0, cp) != tok.size()) continue;
        if (cp < 0x10000) m->bmp_char_id[cp] = id;
        else m->astral_char_id[cp] = id;
    }

    const Json& merges = field(j, "merges", where);
    if (!merges.is_array()) fail(where + ".merges", "expected an array");
    m->merges.reserve(merges.size());
    std::string a, b, joined;
    int32_t rank = 0;
    for (size_t i = 0; i < merges.size(); ++i) {
        const Json& e = merges[i];
        std::string at = where + ".merges[" + std::to_string(i) + "]";
        if (e.is_string()) {
            const std::string& line = e.get_ref<const std::string&>();
            if (line.rfind("#version", 0) == 0) continue;
            size_t sp = line.find(' ');
            if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
                fail(at, "expected \"a b\" (two tokens separated by one space), got '" + line + "'");
            a = line.substr(0, sp);
            b = line.substr(sp + 1);
        } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
            a = e[0].get<std::string>();
            b = e[1].get<std::string>();
        } else {
            fail(at, "expected \"a b\" or [\"a\", \"b\"]");
        }
        int32_t ia = m->lookup(a), ib = m->lookup(b);
        if (ia < 0) fail(at, "merge token '" + a + "' is not in the vocab");
        if (ib < 0) fail(at, "merge token '" + b + "' is not in the vocab");
        if (b.size() < m->prefix.size()) fail(at, "merge token '" + b + "' is shorter than continuing_subword_prefix");
        joined = a;
        joined.append(b, m->prefix.size(), std::string::npos);
        int32_t inew = m->lookup(joined);
        if (inew < 0) fail(at, "merged token '" + joined + "' is not in the vocab");
        m->merges.insert(ia, ib, {rank, inew});
        ++rank;
    }
    return m;
}

void bpe_tokenize(const BpeModel& m, std::string_view word, std::vector<int32_t>& out) { m.tokenize(word, out); }
int32_t bpe_token_to_id(const BpeModel& m, std::string_view token) { return m.lookup(token); }
const std::vector<std::string>& bpe_id_to_token(const BpeModel& m) { return m.vocab_r; }
size_t bpe_vocab_count(const BpeModel& m) { return m.vocab.size(); }

}  // namespace rlhf::text::detail
