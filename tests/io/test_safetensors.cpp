// safetensors: files written byte by byte here (spec: https://github.com/huggingface/safetensors,
// "Format"), the writer's output compared with those bytes, a table of malformed files each with
// the message it must produce, and a mutation loop that may only ever succeed or throw rlhf::Error.
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/io/error.h"
#include "core/io/safetensors.h"

using namespace rlhf::io;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes le64(uint64_t v) {
    Bytes b(8);
    for (int i = 0; i < 8; ++i) b[size_t(i)] = uint8_t(v >> (8 * i));
    return b;
}

// A file: 8-byte little-endian length of `header`, the header text as given (no padding added),
// then `buffer`.
Bytes make_file(const std::string& header, const Bytes& buffer = {}) {
    Bytes out = le64(header.size());
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), buffer.begin(), buffer.end());
    return out;
}

Bytes read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

// The hand-built file of the first test: one F32 tensor "w" = [1.0, -2.5].
//   header {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 54 bytes; the reference
//   writer pads with spaces to the next multiple of 8, 56 = 0x38.
//   1.0f  = 0x3F800000 -> little-endian 00 00 80 3F
//   -2.5f = -1.25 * 2^1: sign 1, exponent 127+1 = 0x80, mantissa 0.25 -> 0xC0200000 -> 00 00 20 C0
Bytes hand_built_f32() {
    const std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
    Bytes b = {0x38, 0, 0, 0, 0, 0, 0, 0};
    b.insert(b.end(), header.begin(), header.end());
    const Bytes data = {0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0};
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

// Two tensors after metadata, "b" first in the buffer although "a" sorts first by name.
//   header is 139 bytes, padded with 5 spaces to 144 = 0x90.
//   b: I16 [[1, -2, 300]] -> 01 00, FE FF, 2C 01 (300 = 0x012C)
//   a: U8 [7, 255]        -> 07 FF
Bytes hand_built_two() {
    const std::string header =
        "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I16\",\"shape\":[1,3],\"data_offsets\":[0,6]},"
        "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}     ";
    Bytes b = {0x90, 0, 0, 0, 0, 0, 0, 0};
    b.insert(b.end(), header.begin(), header.end());
    const Bytes data = {0x01, 0x00, 0xFE, 0xFF, 0x2C, 0x01, 0x07, 0xFF};
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

// Structural invariants of any file the reader accepts.
void check_invariants(const SafetensorsFile& f, const uint8_t* base, size_t size) {
    uint64_t prev_end = 0;
    bool first = true;
    for (const TensorView& t : f.tensors()) {
        QVERIFY(t.data >= base && t.data + t.nbytes <= base + size);
        QCOMPARE(uint64_t(t.nbytes), uint64_t(t.numel()) * dtype_size(t.dtype));
        const uint64_t begin = uint64_t(t.data - base);
        if (!first) QCOMPARE(begin, prev_end);  // data-offset order, no gap, no overlap
        prev_end = begin + t.nbytes;
        first = false;
        QCOMPARE(f.find(t.name), &t);
    }
}

}  // namespace

class SafetensorsTest : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    std::string path(const char* name) { return dir_.filePath(QString::fromUtf8(name)).toStdString(); }

private Q_SLOTS:
    void dtype_table() {
        // Element sizes from the spec's dtype list.
        const std::vector<std::pair<const char*, size_t>> expected = {
            {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2},  {"U16", 2},     {"I32", 4},     {"U32", 4}, {"I64", 8},
            {"U64", 8},  {"F16", 2}, {"BF16", 2}, {"F32", 4}, {"F64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
        for (const auto& [name, size] : expected) {
            DType d{};
            QVERIFY2(dtype_from_name(name, &d), name);
            QCOMPARE(dtype_size(d), size);
            QCOMPARE(std::string(dtype_name(d)), std::string(name));
        }
        DType d{};
        QVERIFY(!dtype_from_name("f32", &d));
        QVERIFY(!dtype_from_name("", &d));
    }

    void read_hand_built_file() {
        const std::string p = path("hand.safetensors");
        write_bytes(p, hand_built_f32());
        const SafetensorsFile f = SafetensorsFile::open(p);
        QCOMPARE(f.path(), p);
        QCOMPARE(f.tensors().size(), size_t(1));
        const TensorView& w = f.at("w");
        QCOMPARE(w.name, std::string("w"));
        QVERIFY(w.dtype == DType::F32);
        QCOMPARE(w.shape, (std::vector<int64_t>{2}));
        QCOMPARE(w.nbytes, size_t(8));
        QCOMPARE(w.numel(), int64_t(2));
        float v[2];
        std::memcpy(v, w.data, 8);
        QCOMPARE(v[0], 1.0f);
        QCOMPARE(v[1], -2.5f);
        QVERIFY(f.metadata().empty());
        QVERIFY(f.find("missing") == nullptr);
        try {
            f.at("missing");
            QFAIL("expected rlhf::Error");
        } catch (const rlhf::Error& e) {
            QVERIFY(std::string(e.what()).find("'missing'") != std::string::npos);
        }
    }

    void read_hand_built_metadata_and_order() {
        const SafetensorsFile f = SafetensorsFile::from_bytes(hand_built_two(), "two");
        QCOMPARE(f.metadata().at("format"), std::string("pt"));
        QCOMPARE(f.tensors().size(), size_t(2));
        QCOMPARE(f.tensors()[0].name, std::string("b"));  // data-offset order, not name order
        QCOMPARE(f.tensors()[1].name, std::string("a"));
        int16_t b[3];
        std::memcpy(b, f.at("b").data, 6);
        QCOMPARE(int(b[0]), 1);
        QCOMPARE(int(b[1]), -2);
        QCOMPARE(int(b[2]), 300);
        QCOMPARE(f.at("b").shape, (std::vector<int64_t>{1, 3}));
        QCOMPARE(int(f.at("a").data[0]), 7);
        // b (I16) starts at buffer offset 0 and the buffer at 8 + 144 bytes: aligned; U8 always is.
        QVERIFY(f.at("b").is_aligned());
        QVERIFY(f.at("a").is_aligned());
        // One U8 byte before an F32: with the header padded to a multiple of 8 and from_bytes'
        // storage 8-aligned (operator new), the F32 sits at address 1 mod 8, not a multiple of 4.
        std::string header = "{\"u\":" + entry("U8", "[1]", "[0,1]") + ",\"f\":" + entry("F32", "[1]", "[1,5]") + "}";
        header.append((8 - header.size() % 8) % 8, ' ');
        const SafetensorsFile m = SafetensorsFile::from_bytes(make_file(header, Bytes(5, 0)), "misaligned");
        QVERIFY(m.at("u").is_aligned());
        QVERIFY(!m.at("f").is_aligned());
        QCOMPARE(int(f.at("a").data[1]), 255);
    }

    void writer_matches_hand_built_bytes() {
        const float w[2] = {1.0f, -2.5f};
        const std::string p1 = path("w1.safetensors");
        write_safetensors(p1, {{"w", DType::F32, {2}, w, sizeof(w)}});
        QCOMPARE(read_bytes(p1), hand_built_f32());

        const int16_t b[3] = {1, -2, 300};
        const uint8_t a[2] = {7, 255};
        const std::string p2 = path("w2.safetensors");
        write_safetensors(p2, {{"b", DType::I16, {1, 3}, b, sizeof(b)}, {"a", DType::U8, {2}, a, sizeof(a)}},
                          {{"format", "pt"}});
        QCOMPARE(read_bytes(p2), hand_built_two());
    }

    void writer_round_trip_bit_exact() {
        std::mt19937 rng(1234);
        std::vector<std::vector<uint8_t>> payloads;
        std::vector<TensorToWrite> tensors;
        const std::vector<std::pair<DType, std::vector<int64_t>>> specs = {
            {DType::BF16, {3, 5}}, {DType::F64, {7}},     {DType::BOOL, {1, 1, 3}}, {DType::F32, {0, 4}},
            {DType::I64, {}},      {DType::F8_E4M3, {9}}, {DType::U16, {2, 0, 2}},  {DType::I8, {13}}};
        payloads.reserve(specs.size());
        for (size_t i = 0; i < specs.size(); ++i) {
            int64_t numel = 1;
            for (int64_t d : specs[i].second) numel *= d;
            std::vector<uint8_t> bytes(size_t(numel) * dtype_size(specs[i].first));
            for (uint8_t& x : bytes) x = uint8_t(rng());
            payloads.push_back(std::move(bytes));
            tensors.push_back({"model.layers." + std::to_string(i) + ".weight", specs[i].first, specs[i].second,
                               payloads.back().data(), payloads.back().size()});
        }
        const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "\xC3\xA9t\xC3\xA9 \"q\"\n"}};
        const std::string p = path("rt.safetensors");
        write_safetensors(p, tensors, meta);
        const Bytes raw = read_bytes(p);
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | raw[size_t(i)];
        QCOMPARE(header_len % 8, uint64_t(0));  // buffer starts 8-byte aligned
        for (const bool from_memory : {false, true}) {
            const SafetensorsFile f = from_memory ? SafetensorsFile::from_bytes(raw, "mem") : SafetensorsFile::open(p);
            QCOMPARE(f.metadata(), meta);
            QCOMPARE(f.tensors().size(), tensors.size());
            for (size_t i = 0; i < tensors.size(); ++i) {
                const TensorView& t = f.tensors()[i];  // the writer keeps the given order
                QCOMPARE(t.name, tensors[i].name);
                QVERIFY(t.dtype == tensors[i].dtype);
                QCOMPARE(t.shape, tensors[i].shape);
                QCOMPARE(t.nbytes, payloads[i].size());
                QVERIFY(t.nbytes == 0 || std::memcmp(t.data, payloads[i].data(), t.nbytes) == 0);
            }
            check_invariants(f, f.tensors()[0].data - 8 - header_len, raw.size());
        }
    }

    void keepalive_outlives_file_object() {
        const std::string p = path("keep.safetensors");
        write_bytes(p, hand_built_f32());
        std::shared_ptr<const void> keep;
        const uint8_t* data = nullptr;
        {
            const SafetensorsFile f = SafetensorsFile::open(p);
            keep = f.keepalive();
            data = f.at("w").data;
        }
        // The mapping is still there: reading it is fine (ASan / SIGSEGV would catch a munmap).
        float v[2];
        std::memcpy(v, data, 8);
        QCOMPARE(v[1], -2.5f);
        keep.reset();
    }

    void valid_edge_cases() {
        // No tensors at all, empty buffer.
        QCOMPARE(SafetensorsFile::from_bytes(make_file("{}"), "e").tensors().size(), size_t(0));
        // Padding: spaces (and JSON whitespace) after the object.
        QCOMPARE(SafetensorsFile::from_bytes(make_file("{}      "), "e").tensors().size(), size_t(0));
        // Zero-sized tensors, including one whose other dimensions would overflow if multiplied.
        const Bytes zero = make_file("{\"z\":" + entry("F32", "[0,3]", "[0,0]") + ",\"y\":" +
                                     entry("F64", "[4294967296,4294967296,0]", "[0,0]") + ",\"x\":" +
                                     entry("U8", "[2]", "[0,2]") + "}",
                                     {1, 2});
        const SafetensorsFile f = SafetensorsFile::from_bytes(zero, "zero");
        QCOMPARE(f.at("z").nbytes, size_t(0));
        QCOMPARE(f.at("y").numel(), int64_t(0));
        QCOMPARE(int(f.at("x").data[1]), 2);
        // Scalars: shape [] has one element.
        const SafetensorsFile s = SafetensorsFile::from_bytes(
            make_file("{\"s\":" + entry("I32", "[]", "[0,4]") + "}", {5, 0, 0, 0}), "scalar");
        QCOMPARE(s.at("s").numel(), int64_t(1));
        // Empty metadata object.
        QVERIFY(SafetensorsFile::from_bytes(make_file("{\"__metadata__\":{}}"), "m").metadata().empty());
    }

    void malformed_files_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        auto row = [](const char* name, const Bytes& b, const char* expected) {
            QTest::newRow(name) << QByteArray(reinterpret_cast<const char*>(b.data()), qsizetype(b.size()))
                                << QString::fromUtf8(expected);
        };
        const std::string w8 = entry("F32", "[2]", "[0,8]");  // a valid 8-byte entry
        const Bytes eight(8, 0);
        row("empty file", {}, "shorter than the 8-byte header length prefix");
        row("7 bytes", Bytes(7, 0), "shorter than the 8-byte header length prefix");
        row("header length 0", le64(0), "header length is 0");
        row("header length 100000001", [] { Bytes b = le64(100000001); b.push_back('{'); return b; }(),
            "exceeds the limit of 100000000 bytes");
        row("header length 2^64-1", le64(~uint64_t(0)), "exceeds the limit");
        row("header past end of file", [] { Bytes b = le64(100); b.push_back('{'); b.push_back('}'); return b; }(),
            "runs past the end of the file");
        row("invalid UTF-8 byte", make_file("{\"\xFF\":{}}"), "not valid UTF-8");
        row("overlong UTF-8", make_file("{\"\xC0\xAF\":{}}"), "not valid UTF-8");
        row("UTF-8 surrogate", make_file("{\"\xED\xA0\x80\":{}}"), "not valid UTF-8");
        row("truncated UTF-8 sequence", make_file("{\"\xE2\x82"), "not valid UTF-8");
        row("not JSON", make_file("{\"w\":"), "header is not valid JSON");
        row("JSON array", make_file("[1,2]"), "header is not a JSON object");
        row("leading space", make_file(" {}"), "header is not a JSON object");
        row("trailing garbage", make_file("{} x"), "header is not valid JSON");
        row("two objects", make_file("{}{}"), "header is not valid JSON");
        row("NUL padding", make_file(std::string("{}\0\0", 4)), "header is not valid JSON");
        row("entry not an object", make_file("{\"w\":5}"), "tensor 'w': entry is not a JSON object");
        row("missing dtype", make_file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight),
            "tensor 'w': missing field 'dtype'");
        row("missing shape", make_file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight),
            "tensor 'w': missing field 'shape'");
        row("missing data_offsets", make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight),
            "tensor 'w': missing field 'data_offsets'");
        row("extra field",
            make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", eight),
            "tensor 'w': unknown field 'extra'");
        row("unknown dtype", make_file("{\"w\":" + entry("F7", "[2]", "[0,8]") + "}", eight), "unknown dtype 'F7'");
        row("lowercase dtype", make_file("{\"w\":" + entry("f32", "[2]", "[0,8]") + "}", eight),
            "unknown dtype 'f32'");
        row("dtype not a string", make_file("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", eight),
            "dtype is not a string");
        row("shape not a list", make_file("{\"w\":" + entry("F32", "2", "[0,8]") + "}", eight),
            "shape is not a list of non-negative integers");
        row("negative shape", make_file("{\"w\":" + entry("F32", "[-2]", "[0,8]") + "}", eight),
            "shape is not a list of non-negative integers");
        row("float shape", make_file("{\"w\":" + entry("F32", "[2.0]", "[0,8]") + "}", eight),
            "shape is not a list of non-negative integers");
        row("string shape", make_file("{\"w\":" + entry("F32", "[\"2\"]", "[0,8]") + "}", eight),
            "shape is not a list of non-negative integers");
        row("dimension above int64", make_file("{\"w\":" + entry("U8", "[9223372036854775808]", "[0,8]") + "}", eight),
            "is too large");
        // 2^32 * 2^32 = 2^64 does not fit in 64 bits.
        row("element count overflow",
            make_file("{\"w\":" + entry("U8", "[4294967296,4294967296]", "[0,8]") + "}", eight), "overflows");
        // 2^62 elements fit, but 2^62 * 4 bytes = 2^64 does not.
        row("byte count overflow", make_file("{\"w\":" + entry("F32", "[4611686018427387904]", "[0,8]") + "}", eight),
            "overflows");
        row("offsets not a list", make_file("{\"w\":" + entry("F32", "[2]", "8") + "}", eight),
            "data_offsets is not a list of two non-negative integers");
        row("three offsets", make_file("{\"w\":" + entry("F32", "[2]", "[0,8,8]") + "}", eight),
            "data_offsets is not a list of two non-negative integers");
        row("negative offset", make_file("{\"w\":" + entry("F32", "[2]", "[-8,0]") + "}", eight),
            "data_offsets is not a list of two non-negative integers");
        row("float offsets", make_file("{\"w\":" + entry("F32", "[2]", "[0.0,8.0]") + "}", eight),
            "data_offsets is not a list of two non-negative integers");
        row("begin > end", make_file("{\"w\":" + entry("F32", "[0]", "[8,4]") + "}", eight), "has begin > end");
        row("offsets past the buffer", make_file("{\"w\":" + entry("F32", "[2]", "[0,8]") + "}", Bytes(4, 0)),
            "runs past the end of the data buffer (4 bytes)");
        row("span does not match shape", make_file("{\"w\":" + entry("F32", "[2]", "[0,4]") + "}", Bytes(4, 0)),
            "spans 4 bytes but dtype F32 with shape [2] needs 8");
        row("overlap", make_file("{\"a\":" + w8 + ",\"b\":" + entry("F32", "[2]", "[4,12]") + "}", Bytes(12, 0)),
            "overlap tensor");
        row("identical spans", make_file("{\"a\":" + w8 + ",\"b\":" + w8 + "}", eight), "overlap tensor");
        row("hole in the middle",
            make_file("{\"a\":" + entry("F32", "[1]", "[0,4]") + ",\"b\":" + entry("F32", "[1]", "[8,12]") + "}",
                      Bytes(12, 0)),
            "hole in the data buffer: bytes [4, 8)");
        row("hole at the start", make_file("{\"a\":" + entry("F32", "[1]", "[4,8]") + "}", eight),
            "hole in the data buffer: bytes [0, 4)");
        row("trailing bytes", make_file("{\"a\":" + w8 + "}", Bytes(9, 0)), "hole in the data buffer: bytes [8, 9)");
        row("buffer without tensors", make_file("{}", Bytes(1, 0)), "hole in the data buffer: bytes [0, 1)");
        row("duplicate tensor", make_file("{\"w\":" + w8 + ",\"w\":" + w8 + "}", eight), "duplicate key 'w'");
        row("duplicate field",
            make_file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight),
            "duplicate key 'dtype'");
        row("duplicate metadata key", make_file("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}"), "duplicate key 'k'");
        row("metadata not an object", make_file("{\"__metadata__\":[\"a\"]}"), "__metadata__ is not a JSON object");
        row("metadata null", make_file("{\"__metadata__\":null}"), "__metadata__ is not a JSON object");
        row("metadata value not a string", make_file("{\"__metadata__\":{\"step\":5}}"),
            "__metadata__ value for key 'step' is not a string");
    }
    void malformed_files() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const Bytes b(bytes.begin(), bytes.end());
        try {
            SafetensorsFile::from_bytes(b, "bad.safetensors");
            QFAIL("accepted a malformed file");
        } catch (const rlhf::Error& e) {
            const std::string what = e.what();
            QVERIFY2(what.rfind("bad.safetensors: ", 0) == 0, what.c_str());
            QVERIFY2(what.find(expected.toStdString()) != std::string::npos, what.c_str());
        }
    }

    void open_errors_name_the_path() {
        const std::string p = path("short.safetensors");
        write_bytes(p, Bytes(3, 0));
        try {
            SafetensorsFile::open(p);
            QFAIL("expected rlhf::Error");
        } catch (const rlhf::Error& e) {
            QVERIFY2(std::string(e.what()).rfind(p + ": ", 0) == 0, e.what());
        }
        try {
            SafetensorsFile::open(path("absent.safetensors"));
            QFAIL("expected rlhf::Error");
        } catch (const rlhf::Error& e) {
            QVERIFY(std::string(e.what()).find("absent.safetensors") != std::string::npos);
        }
    }

    void writer_rejects_bad_input() {
        const float x[2] = {0, 0};
        const std::string p = path("bad-write.safetensors");
        auto fails_with = [&](const std::vector<TensorToWrite>& t, const std::string& needle) {
            try {
                write_safetensors(p, t);
            } catch (const rlhf::Error& e) {
                return std::string(e.what()).find(needle) != std::string::npos;
            }
            return false;
        };
        QVERIFY(fails_with({{"w", DType::F32, {3}, x, sizeof(x)}}, "does not match"));
        QVERIFY(fails_with({{"w", DType::F32, {2}, x, sizeof(x)}, {"w", DType::F32, {2}, x, sizeof(x)}}, "twice"));
        QVERIFY(fails_with({{"__metadata__", DType::F32, {2}, x, sizeof(x)}}, "reserved"));
        QVERIFY(fails_with({{"w", DType::F32, {-2}, x, sizeof(x)}}, "negative"));
        QVERIFY(fails_with({{"bad\xFF", DType::F32, {2}, x, sizeof(x)}}, "header"));
        QVERIFY(!QFile::exists(QString::fromStdString(p)));  // nothing written on failure
    }

    // Random byte flips, insertions and truncations of valid files: the reader must either accept
    // (and then every view lies inside the bytes) or throw rlhf::Error; anything else, or an
    // out-of-bounds read under ASan, fails the test.
    void mutation_loop() {
        const int16_t b[3] = {1, -2, 300};
        const uint8_t a[2] = {7, 255};
        const float z = 0;
        const std::string p = path("seed.safetensors");
        write_safetensors(p,
                          {{"b", DType::I16, {1, 3}, b, sizeof(b)},
                           {"a", DType::U8, {2}, a, sizeof(a)},
                           {"e", DType::F32, {0}, &z, 0},
                           {"s", DType::F32, {}, &z, 4}},
                          {{"format", "pt"}});
        const std::vector<Bytes> seeds = {read_bytes(p), hand_built_f32(), hand_built_two()};
        std::mt19937 rng(20261123);
        int accepted = 0, rejected = 0;
        // RLHF_FUZZ_ITERATIONS raises the count for a long local run (200,000 pass under ASan).
        const int iterations = qEnvironmentVariableIsSet("RLHF_FUZZ_ITERATIONS")
                                   ? qEnvironmentVariableIntValue("RLHF_FUZZ_ITERATIONS")
                                   : 4000;
        for (int iter = 0; iter < iterations; ++iter) {
            Bytes m = seeds[size_t(iter) % seeds.size()];
            const int edits = 1 + int(rng() % 3);
            for (int e = 0; e < edits && !m.empty(); ++e) {
                const size_t pos = rng() % m.size();
                switch (rng() % 6) {
                    case 0: m[pos] = uint8_t(rng()); break;                       // random byte
                    case 1: m[pos] ^= uint8_t(1u << (rng() % 8)); break;          // one bit
                    case 2: m.resize(pos); break;                                 // truncate
                    case 3: m.insert(m.begin() + long(pos), uint8_t(rng())); break;  // insert
                    case 4: m.erase(m.begin() + long(pos)); break;                // delete
                    case 5: {  // a structural character, where JSON changes meaning
                        static const char kChars[] = "{}[],:\"0123456789-. e";
                        m[pos] = uint8_t(kChars[rng() % (sizeof(kChars) - 1)]);
                        break;
                    }
                }
            }
            try {
                const SafetensorsFile f = SafetensorsFile::from_bytes(m, "mutant");
                ++accepted;
                // from_bytes copied `m`; check views against its own storage.
                const uint8_t* base = static_cast<const uint8_t*>(f.keepalive().get());
                check_invariants(f, base, m.size());
            } catch (const rlhf::Error&) {
                ++rejected;
            }
        }
        QVERIFY(rejected > 0);
        qInfo("mutation loop: %d accepted, %d rejected", accepted, rejected);
    }
};

QTEST_APPLESS_MAIN(SafetensorsTest)
#include "test_safetensors.moc"
