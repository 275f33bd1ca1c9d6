// Sharded checkpoints: the writer's files are checked against the layout transformers writes
// (names, index JSON written out here by hand), and malformed indexes each fail with their message.
#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cstring>
#include <functional>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "core/io/safetensors_index.h"

using namespace rlhf::io;

namespace {

std::vector<std::string> dir_files(const std::string& dir) {
    std::vector<std::string> out;
    for (const QString& f : QDir(QString::fromStdString(dir)).entryList(QDir::Files, QDir::Name)) {
        out.push_back(f.toStdString());
    }
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rlhf::Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

class SafetensorsIndexTest : public QObject {
    Q_OBJECT

private:
    // Five F32 tensors of 16, 16, 40, 8 and 0 bytes.
    std::vector<std::vector<float>> data_ = {{1, 2, 3, 4}, {5, 6, 7, 8}, std::vector<float>(10, 0.5f), {-1, -2}, {}};
    std::vector<TensorToWrite> tensors() const {
        const char* names[] = {"embed.weight", "layers.0.w", "layers.1.w", "norm.weight", "empty"};
        std::vector<TensorToWrite> out;
        for (size_t i = 0; i < data_.size(); ++i) {
            out.push_back({names[i], DType::F32, {int64_t(data_[i].size())}, data_[i].data(), data_[i].size() * 4});
        }
        return out;
    }

    std::string make_sharded(const QTemporaryDir& dir) {
        write_safetensors_sharded(dir.path().toStdString(), tensors(), 32, {{"format", "pt"}});
        return dir.path().toStdString();
    }

private Q_SLOTS:
    void sharded_layout_matches_transformers() {
        QTemporaryDir dir;
        const std::string d = dir.path().toStdString();
        // Limit 32 bytes, greedy in order: [16 + 16] | [40] (alone: larger than the limit) | [8 + 0].
        const std::vector<std::string> written = write_safetensors_sharded(d, tensors(), 32, {{"format", "pt"}});
        QCOMPARE(written, (std::vector<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                                    "model-00003-of-00003.safetensors",
                                                    "model.safetensors.index.json"}));
        // total_size = 16 + 16 + 40 + 8 + 0 = 80; keys sorted, indent 2, trailing newline.
        const std::string expected_index =
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 80\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"embed.weight\": \"model-00001-of-00003.safetensors\",\n"
            "    \"empty\": \"model-00003-of-00003.safetensors\",\n"
            "    \"layers.0.w\": \"model-00001-of-00003.safetensors\",\n"
            "    \"layers.1.w\": \"model-00002-of-00003.safetensors\",\n"
            "    \"norm.weight\": \"model-00003-of-00003.safetensors\"\n"
            "  }\n"
            "}\n";
        QCOMPARE(read_file(d + "/model.safetensors.index.json"), expected_index);

        const SafetensorsIndex idx = SafetensorsIndex::open_dir(d);
        QVERIFY(idx.sharded());
        QCOMPARE(idx.size(), size_t(5));
        QCOMPARE(idx.shards().size(), size_t(3));
        QCOMPARE(idx.index_metadata()["total_size"].get<int>(), 80);
        QCOMPARE(idx.metadata().at("format"), std::string("pt"));
        const std::vector<TensorToWrite> t = tensors();
        for (const TensorToWrite& w : t) {
            const TensorView& v = idx.at(w.name);
            QCOMPARE(v.nbytes, w.nbytes);
            QVERIFY(v.nbytes == 0 || std::memcmp(v.data, w.data, v.nbytes) == 0);
        }
        QCOMPARE(idx.tensor_names(),
                 (std::vector<std::string>{"embed.weight", "empty", "layers.0.w", "layers.1.w", "norm.weight"}));
        QVERIFY(idx.find("nope") == nullptr);
        QVERIFY(error_of([&] { idx.at("nope"); }).find("'nope'") != std::string::npos);
        // The mapping outlives the index object through keepalive().
        std::shared_ptr<const void> keep = idx.keepalive("layers.1.w");
        QVERIFY(keep != nullptr);
    }

    void single_file_when_it_fits_and_stale_files_removed() {
        QTemporaryDir dir;
        const std::string d = make_sharded(dir);
        QCOMPARE(dir_files(d).size(), size_t(4));
        // Saving again with a large limit: one file, and the old shards and index are gone, so
        // open_dir cannot pick up the stale index.
        const std::vector<std::string> written = write_safetensors_sharded(d, tensors(), 1u << 20);
        QCOMPARE(written, std::vector<std::string>{"model.safetensors"});
        QCOMPARE(dir_files(d), std::vector<std::string>{"model.safetensors"});
        const SafetensorsIndex idx = SafetensorsIndex::open_dir(d);
        QVERIFY(!idx.sharded());
        QCOMPARE(idx.size(), size_t(5));
        QCOMPARE(idx.shard_names(), std::vector<std::string>{"model.safetensors"});
        // And back to shards: model.safetensors is removed.
        make_sharded(dir);
        QCOMPARE(dir_files(d).size(), size_t(4));
        QVERIFY(!QFile::exists(QString::fromStdString(d + "/model.safetensors")));
    }

    void open_dir_without_checkpoint() {
        QTemporaryDir dir;
        const std::string err = error_of([&] { SafetensorsIndex::open_dir(dir.path().toStdString()); });
        QVERIFY2(err.find("no model.safetensors") != std::string::npos, err.c_str());
    }

    void malformed_indexes_data() {
        QTest::addColumn<QString>("index");
        QTest::addColumn<QString>("expected");
        const char* s1 = "model-00001-of-00003.safetensors";
        const auto map = [&](const std::string& entries) {
            return QString::fromStdString("{\"metadata\":{\"total_size\":80},\"weight_map\":{" + entries + "}}");
        };
        const std::string rest = std::string(",\"layers.1.w\":\"model-00002-of-00003.safetensors\"") +
                                 ",\"norm.weight\":\"model-00003-of-00003.safetensors\"" +
                                 ",\"empty\":\"model-00003-of-00003.safetensors\"";
        const std::string good_first = std::string("\"embed.weight\":\"") + s1 + "\",\"layers.0.w\":\"" + s1 + "\"";
        QTest::newRow("not JSON") << QStringLiteral("{\"weight_map\": {") << QStringLiteral("invalid JSON");
        QTest::newRow("not an object") << QStringLiteral("[]") << QStringLiteral("not a JSON object");
        QTest::newRow("no weight_map") << QStringLiteral("{\"metadata\":{}}") << QStringLiteral("missing \"weight_map\"");
        QTest::newRow("weight_map list") << QStringLiteral("{\"weight_map\":[]}")
                                         << QStringLiteral("\"weight_map\" is not a JSON object");
        QTest::newRow("metadata list") << QStringLiteral("{\"metadata\":[],\"weight_map\":{}}")
                                       << QStringLiteral("\"metadata\" is not a JSON object");
        QTest::newRow("negative total_size") << QStringLiteral("{\"metadata\":{\"total_size\":-1},\"weight_map\":{}}")
                                             << QStringLiteral("total_size is not a non-negative integer");
        QTest::newRow("shard not a string") << map("\"embed.weight\":1") << QStringLiteral("is not a string");
        QTest::newRow("absolute path") << map("\"embed.weight\":\"/etc/passwd\"") << QStringLiteral("absolute shard path");
        QTest::newRow("parent dir") << map("\"embed.weight\":\"../model-00001-of-00003.safetensors\"")
                                    << QStringLiteral("'..' in a shard path");
        QTest::newRow("parent dir inside") << map("\"embed.weight\":\"sub/../../x.safetensors\"")
                                           << QStringLiteral("'..' in a shard path");
        QTest::newRow("empty name") << map("\"embed.weight\":\"\"") << QStringLiteral("empty shard file name");
        QTest::newRow("missing shard") << map("\"embed.weight\":\"model-00009-of-00009.safetensors\"")
                                       << QStringLiteral("does not exist");
        QTest::newRow("duplicate tensor key")
            << map(good_first + ",\"embed.weight\":\"" + s1 + "\"" + rest) << QStringLiteral("duplicate key 'embed.weight'");
        // Every shard opened, but embed.weight is mapped to shard 2 while it lives in shard 1.
        QTest::newRow("mapped to another shard")
            << map("\"embed.weight\":\"model-00002-of-00003.safetensors\",\"layers.0.w\":\"" + std::string(s1) + "\"" + rest)
            << QStringLiteral("tensor 'embed.weight' is in shard 'model-00001-of-00003.safetensors' but weight_map maps "
                              "it to 'model-00002-of-00003.safetensors'");
        QTest::newRow("shard tensor not listed") << map("\"layers.0.w\":\"" + std::string(s1) + "\"" + rest)
                                                 << QStringLiteral("tensor 'embed.weight' in shard "
                                                                   "'model-00001-of-00003.safetensors' is not listed");
        QTest::newRow("listed tensor absent") << map(good_first + rest + ",\"ghost\":\"" + s1 + "\"")
                                              << QStringLiteral("tensor 'ghost' is mapped to shard");
    }
    void malformed_indexes() {
        QFETCH(QString, index);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const std::string d = make_sharded(dir);
        const std::string path = d + "/model.safetensors.index.json";
        write_file_atomic(path, index.toStdString());
        const std::string err = error_of([&] { SafetensorsIndex::open_dir(d); });
        QVERIFY2(err.rfind(path + ":", 0) == 0, err.c_str());
        QVERIFY2(err.find(expected.toStdString()) != std::string::npos, err.c_str());
    }

    void tensor_in_two_shards() {
        // A second copy of embed.weight in shard 3: the index maps it to shard 1, so shard 3's copy
        // is a tensor mapped to another shard.
        QTemporaryDir dir;
        const std::string d = make_sharded(dir);
        const float x[2] = {-1, -2};
        const float e[4] = {0, 0, 0, 0};
        write_safetensors(d + "/model-00003-of-00003.safetensors",
                          {{"norm.weight", DType::F32, {2}, x, 8}, {"empty", DType::F32, {0}, x, 0},
                           {"embed.weight", DType::F32, {4}, e, 16}});
        const std::string err = error_of([&] { SafetensorsIndex::open_dir(d); });
        QVERIFY2(err.find("tensor 'embed.weight' is in shard 'model-00003-of-00003.safetensors' but weight_map maps it "
                          "to 'model-00001-of-00003.safetensors'") != std::string::npos,
                 err.c_str());
    }

    void truncated_shard_names_the_shard() {
        QTemporaryDir dir;
        const std::string d = make_sharded(dir);
        const std::string shard = d + "/model-00002-of-00003.safetensors";
        const std::string bytes = read_file(shard);
        write_file_atomic(shard, bytes.substr(0, bytes.size() - 3));
        const std::string err = error_of([&] { SafetensorsIndex::open_dir(d); });
        QVERIFY2(err.rfind(shard + ": ", 0) == 0, err.c_str());
    }

    // Damaged index files: only success or rlhf::Error, and a success still agrees with the shards.
    void mutated_index_only_throws_rlhf_error() {
        QTemporaryDir dir;
        const std::string d = make_sharded(dir);
        const std::string path = d + "/model.safetensors.index.json";
        const std::string good = read_file(path);
        std::mt19937 rng(99);
        int errors = 0;
        for (int iter = 0; iter < 500; ++iter) {
            std::string m = good;
            for (int e = 0; e < 2; ++e) {
                static const char kChars[] = "{}[],:\"./0123456789-ab ";
                const size_t pos = rng() % m.size();
                if (rng() % 4 == 0) {
                    m.erase(pos, 1 + rng() % 8);
                } else {
                    m[pos] = kChars[rng() % (sizeof(kChars) - 1)];
                }
                if (m.empty()) break;
            }
            {
                std::ofstream f(path, std::ios::binary | std::ios::trunc);
                f << m;
            }
            try {
                const SafetensorsIndex idx = SafetensorsIndex::open_dir(d);
                for (const std::string& name : idx.tensor_names()) QVERIFY(idx.find(name) != nullptr);
            } catch (const rlhf::Error&) {
                ++errors;
            }
        }
        QVERIFY(errors > 0);
    }

    void writer_rejects_duplicates() {
        QTemporaryDir dir;
        std::vector<TensorToWrite> t = tensors();
        t.push_back(t[0]);
        const std::string err = error_of([&] { write_safetensors_sharded(dir.path().toStdString(), t, 32); });
        QVERIFY2(err.find("'embed.weight' given twice") != std::string::npos, err.c_str());
        QVERIFY(dir_files(dir.path().toStdString()).empty());
    }
};

QTEST_APPLESS_MAIN(SafetensorsIndexTest)
#include "test_safetensors_index.moc"
