// Device correctness without a GPU (issue 12): one training step of every algorithm — SFT, RM,
// DPO, PPO, GRPO — with the models placed by the device resolver on PyTorch's `meta` device.
// Meta tensors carry shapes and no data; an op that mixes a meta tensor with a CPU tensor fails
// with "Tensor on device cpu is not on the expected device meta!", exactly where the same code
// fails on CUDA ("Expected all tensors to be on the same device"). So a collator, sampler, scorer
// or loss that creates a tensor on the CPU instead of on the model's device makes this test fail.
// Host reads go through rlhf::model::to_host, which reads a meta tensor as zeros, so the whole
// step (generation, reward scoring, the trainer's clipping and metrics) runs.
//
// Also: the resolver's words and errors, and the same steps on the CPU with finite losses (the
// meta run checks placement only; the CPU run checks that the code still computes).
#include <QtTest/QtTest>

#include <cstdlib>
#include <fstream>

#include <torch/torch.h>

#include "core/io/error.h"
#include "core/model/device.h"
#include "core/train/algorithms.h"

using namespace rlhf::train;
using rlhf::model::CausalLM;

// ---------------------------------------------------------------------------------------------
// Meta kernels for the operators LibTorch's C++ library has none for (Python registers them in
// torch/_meta_registrations.py, which a C++ program does not load). One boxed kernel serves them
// all: it checks that every tensor argument is on meta — a CPU tensor (other than a 0-dim scalar,
// which CUDA kernels accept too) fails here as it would on CUDA — then runs the operator on CPU
// stand-ins of the same shape and dtype (ones for floating point, zeros otherwise) to learn the
// output shapes, and answers with meta tensors of those shapes. In-place and out= arguments stay
// the caller's meta tensors, resized.
namespace {
at::Tensor cpu_stand_in(const at::Tensor& t, const c10::OperatorHandle& op, size_t arg) {
    if (!t.defined() || t.device().is_cpu()) {
        TORCH_CHECK(!t.defined() || t.dim() == 0, op.schema().name(), ": argument ", arg, " (",
                    op.schema().arguments()[arg].name(), ") is on ", t.device().str(),
                    ", expected the model's device (meta)");
        return t;
    }
    TORCH_CHECK(t.device().is_meta(), op.schema().name(), ": argument ", arg, " on ", t.device().str());
    auto opts = t.options().device(at::kCPU);
    return at::isFloatingType(t.scalar_type()) ? at::ones(t.sizes(), opts) : at::zeros(t.sizes(), opts);
}

void meta_via_cpu(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
    const size_t n = op.schema().arguments().size();
    std::vector<std::pair<at::TensorImpl*, at::Tensor>> originals;  // CPU stand-in -> caller's meta tensor
    auto convert = [&](const at::Tensor& t, size_t i) {
        auto c = cpu_stand_in(t, op, i);
        if (t.defined() && t.device().is_meta()) originals.emplace_back(c.unsafeGetTensorImpl(), t);
        return c;
    };
    for (size_t i = 0; i < n; ++i) {
        auto& iv = (*stack)[stack->size() - n + i];
        if (iv.isTensor()) {
            iv = convert(iv.toTensor(), i);
        } else if (iv.isTensorList()) {
            auto list = iv.toTensorList().vec();
            for (auto& t : list) t = convert(t, i);
            iv = c10::IValue(c10::List<at::Tensor>(list));
        } else if (iv.isOptionalTensorList()) {
            std::vector<std::optional<at::Tensor>> list;
            for (std::optional<at::Tensor> e : iv.toOptionalTensorList())
                list.push_back(e.has_value() && e->defined() ? std::optional<at::Tensor>(convert(*e, i)) : e);
            iv = c10::IValue(c10::List<std::optional<at::Tensor>>(list));
        }
    }
    op.redispatchBoxed(c10::DispatchKeySet(c10::DispatchKey::CPU), stack);
    auto back = [&](const at::Tensor& r) -> at::Tensor {
        if (!r.defined()) return r;
        for (auto& [impl, meta] : originals)
            if (impl == r.unsafeGetTensorImpl()) {
                if (meta.sizes() != r.sizes()) meta.resize_(r.sizes());
                return meta;
            }
        return at::empty_strided(r.sizes(), r.strides(), r.options().device(at::kMeta));
    };
    const size_t m = op.schema().returns().size();
    for (size_t i = 0; i < m; ++i) {
        auto& iv = (*stack)[stack->size() - m + i];
        if (iv.isTensor()) {
            iv = back(iv.toTensor());
        } else if (iv.isTensorList()) {
            auto list = iv.toTensorList().vec();
            for (auto& t : list) t = back(t);
            iv = c10::IValue(c10::List<at::Tensor>(list));
        }
    }
}

// Registers meta_via_cpu for every aten operator with a CPU kernel and no Meta or composite one.
std::unique_ptr<torch::Library> register_meta_kernels() {
    auto lib = std::make_unique<torch::Library>(torch::Library::IMPL, "aten", c10::DispatchKey::Meta, __FILE__, __LINE__);
    for (const auto& name : c10::Dispatcher::singleton().getAllOpNames()) {
        if (name.name.rfind("aten::", 0) != 0) continue;
        auto op = c10::Dispatcher::singleton().findOp(name);
        if (!op || !op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) continue;
        if (op->hasKernelForDispatchKey(c10::DispatchKey::Meta) ||
            op->hasKernelForDispatchKey(c10::DispatchKey::CompositeImplicitAutograd) ||
            op->hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutograd) ||
            op->hasKernelForDispatchKey(c10::DispatchKey::CompositeExplicitAutogradNonFunctional))
            continue;
        const std::string full = name.name.substr(6) + (name.overload_name.empty() ? "" : "." + name.overload_name);
        lib->impl(full.c_str(), torch::CppFunction::makeFromBoxedFunction<&meta_via_cpu>());
    }
    return lib;
}
}  // namespace

namespace {
constexpr int64_t kVocab = 16;  // 0 = EOS/pad, 1 = separator, 2..15 content
constexpr int64_t kEos = 0;

std::shared_ptr<CausalLM> tiny_model(const std::string& family, uint64_t seed, const torch::Device& device) {
    // llama with grouped-query attention (2 query heads per key/value head) covers RoPE and GQA.
    auto config = rlhf::model::make_config(family, /*hidden=*/32, /*layers=*/2, /*heads=*/4,
                                           /*kv_heads=*/family == "gpt2" ? 4 : 2,
                                           /*intermediate=*/64, kVocab, /*max_positions=*/64);
    return rlhf::model::make_random_model(config, seed, torch::kFloat32, device);
}

TrainConfig base_config(Algo algo) {
    TrainConfig c;
    c.algo = algo;
    c.seed = 7;
    c.batch_size = 4;
    c.max_steps = 3;
    c.optimizer.lr = 1e-3;
    c.max_grad_norm = 1.0;
    c.data.max_length = 16;
    c.data.eval_fraction = 0.25;
    c.rm.margin = 0.5;  // the RM's margin tensor too
    c.ppo.response_length = 3;
    c.ppo.minibatches = 2;
    c.ppo.eos_penalty = -1.0;
    c.grpo.group_size = 2;
    c.grpo.response_length = 3;
    c.grpo.beta = 0.04;
    return c;
}

std::vector<PreferenceIds> pairs(int n) {
    std::vector<PreferenceIds> out;
    for (int i = 0; i < n; ++i)
        out.push_back({{2 + i % 5, 1}, {3, 4 + i % 3, kEos}, {5, kEos}, 0.0});
    return out;
}

std::vector<TokenIds> prompts() { return {{2, 1}, {3, 4, 1}, {5, 1}, {6, 7, 8, 1}}; }

RlOptions rl_options() {
    RlOptions o;
    o.eos_ids = {kEos};
    o.pad_id = kEos;
    o.rule_reward = [](const TokenIds&, const TokenIds& r) { return r.empty() ? 0.0 : static_cast<double>(r[0] % 3); };
    o.decode = [](const TokenIds& ids) { return std::to_string(ids.size()) + " tokens"; };  // samples too
    return o;
}

std::vector<Metrics> g_history;  // every step's metrics of the last run()

// Runs c.max_steps optimizer steps of the task and returns the last metrics.
Metrics run(TrainTask& task, const TrainConfig& c) {
    g_history.clear();
    TrainerCallbacks cb;
    cb.on_metrics = [](int64_t, const Metrics& m) { g_history.push_back(m); };
    Trainer trainer(TrainerOptions::from_config(c, "", 0), task, cb);
    return trainer.run().last_metrics;
}

// One algorithm on `device`; returns its last metrics. Throws what the step throws.
Metrics run_algo(Algo algo, const std::string& family, const torch::Device& device) {
    auto c = base_config(algo);
    auto policy = tiny_model(family, 3, device);
    switch (algo) {
        case Algo::Sft: {
            std::vector<SftExampleIds> data;
            for (const auto& p : pairs(8)) data.push_back({p.prompt, p.chosen});
            SftTask task(policy, data, c, kEos);
            return run(task, c);
        }
        case Algo::Rm: {
            auto rm = rlhf::model::make_reward_model(policy, 5);
            rm->to(device);
            RmTask task(rm, pairs(12), c, kEos);
            return run(task, c);
        }
        case Algo::Dpo: {
            auto reference = clone_model(*policy);
            DpoTask task(policy, *reference, pairs(8), c, kEos);
            return run(task, c);
        }
        case Algo::Ppo: {
            PolicyWithValue model(policy);
            model->to(device);
            PpoTask task(model, clone_model(*policy), prompts(), c, rl_options());
            return run(task, c);
        }
        case Algo::Grpo: {
            GrpoTask task(policy, clone_model(*policy), prompts(), c, rl_options());
            return run(task, c);
        }
        default: break;
    }
    throw rlhf::Error("test: algorithm not covered");
}
}  // namespace

class DeviceTest : public QObject {
    Q_OBJECT
    std::unique_ptr<torch::Library> meta_kernels_;
private Q_SLOTS:
    void initTestCase() {
        at::set_num_threads(1);
        meta_kernels_ = register_meta_kernels();
    }

    void resolver_words() {
        using rlhf::model::resolve_device;
        QCOMPARE(resolve_device("cpu"), torch::Device(torch::kCPU));
        QCOMPARE(resolve_device("meta"), torch::Device(torch::kMeta));
        if (!torch::cuda::is_available()) {
            QCOMPARE(resolve_device("auto"), torch::Device(torch::kCPU));
            QCOMPARE(resolve_device("auto", /*local_rank=*/1), torch::Device(torch::kCPU));
            try {
                resolve_device("cuda:0", -1, "train.device");
                QFAIL("cuda without a CUDA device must throw");
            } catch (const rlhf::Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).startsWith(QStringLiteral("train.device: 'cuda:0' but ")), e.what());
            }
        } else {
            QCOMPARE(resolve_device("cuda", /*local_rank=*/0), torch::Device(torch::kCUDA, 0));
        }
        for (const char* bad : {"gpu", "cuda:", "cuda:x", "CPU", ""}) {
            try {
                resolve_device(bad, -1, "device");
                QFAIL(bad);
            } catch (const rlhf::Error& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("is not a device")), e.what());
            }
        }
    }

    void precision_words() {
        using rlhf::model::resolve_precision;
        const torch::Device cpu(torch::kCPU);
        for (const char* d : {"auto", "fp32", "bf16", "fp16"}) QCOMPARE(resolve_precision(d, cpu).name(), std::string("fp32"));
        QVERIFY_THROWS_EXCEPTION(rlhf::Error, resolve_precision("float8", cpu));
        // On a CUDA device (the words only: no CUDA needed to resolve them).
        const torch::Device cuda(torch::kCUDA, 0);
        QCOMPARE(resolve_precision("bf16", cuda).name(), std::string("bf16"));
        QCOMPARE(resolve_precision("fp16", cuda).name(), std::string("fp16"));
        QCOMPARE(resolve_precision("fp32", cuda).name(), std::string("fp32"));
    }

    void host_reads_of_meta_are_zeros() {
        auto m = torch::ones({2, 3}, torch::TensorOptions().device(torch::kMeta));
        const int64_t before = rlhf::model::host_read_count();
        auto h = rlhf::model::to_host(m);
        QVERIFY(h.device().is_cpu());
        QVERIFY(torch::equal(h, torch::zeros({2, 3})));
        QCOMPARE(rlhf::model::host_scalar(m.sum()), 0.0);
        QCOMPARE(rlhf::model::host_read_count() - before, int64_t(2));
    }

    void every_algorithm_on_meta_data() {
        QTest::addColumn<int>("algo");
        QTest::addColumn<QString>("family");
        for (const char* family : {"gpt2", "llama"}) {
            QTest::newRow((std::string("sft/") + family).c_str()) << static_cast<int>(Algo::Sft) << QString::fromLatin1(family);
            QTest::newRow((std::string("rm/") + family).c_str()) << static_cast<int>(Algo::Rm) << QString::fromLatin1(family);
            QTest::newRow((std::string("dpo/") + family).c_str()) << static_cast<int>(Algo::Dpo) << QString::fromLatin1(family);
            QTest::newRow((std::string("ppo/") + family).c_str()) << static_cast<int>(Algo::Ppo) << QString::fromLatin1(family);
            QTest::newRow((std::string("grpo/") + family).c_str()) << static_cast<int>(Algo::Grpo) << QString::fromLatin1(family);
        }
    }
    // Every tensor of a step must be on the model's device: a stray CPU tensor throws here.
    void every_algorithm_on_meta() {
        QFETCH(int, algo);
        QFETCH(QString, family);
        try {
            auto m = run_algo(static_cast<Algo>(algo), family.toStdString(), rlhf::model::resolve_device("meta"));
            QVERIFY(m.count("loss"));
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QStringLiteral("on meta: ") + QString::fromUtf8(e.what()).section(QLatin1Char('\n'), 0, 1)));
        }
    }
    // The same steps compute on the CPU (the meta run has no values to check).
    void every_algorithm_on_cpu_data() { every_algorithm_on_meta_data(); }
    void every_algorithm_on_cpu() {
        QFETCH(int, algo);
        QFETCH(QString, family);
        auto m = run_algo(static_cast<Algo>(algo), family.toStdString(), rlhf::model::resolve_device("cpu"));
        if (const char* dump = std::getenv("RLHF_TEST_DUMP_METRICS")) {
            // For comparing builds by hand (e.g. before/after a refactor): one JSON line per row.
            std::ofstream out(dump, std::ios::app);
            for (size_t step = 0; step < g_history.size(); ++step) {
                nlohmann::json j = {{"row", QTest::currentDataTag()}, {"step", step + 1}};
                for (const auto& [k, v] : g_history[step])
                    if (k.rfind("timing/", 0) != 0 && k != "tokens_per_second") j[k] = v;
                out << j.dump() << "\n";
            }
        }
        QVERIFY2(std::isfinite(m.at("loss")), qPrintable(QString::number(m.at("loss"))));
        QVERIFY(std::isfinite(m.at("grad_norm")));
    }
};

QTEST_APPLESS_MAIN(DeviceTest)
#include "test_device.moc"
