// Reference outputs from llama.cpp (node-llama-cpp's prebuilt CPU binary) for a GGUF file, for
// the tests that hold our runtime against an independent implementation (tests/gguf).
//
//   node ref.mjs REQUEST.json   ->  one JSON object on stdout
//
// REQUEST: {
//   "model": "/path/model.gguf",
//   "context": 128,                       // context (and batch) size; >= the longest sequence
//   "logits": [[ids...], ...],            // full next-token logits after every position
//   "greedy": {"prompt": [ids], "new_tokens": N},       // argmax continuation from token ids
//   "tokenize": ["text", ...],            // the GGUF's own tokenizer (BOS as the GGUF says)
//   "generate_text": {"prompt": "text", "new_tokens": N} // tokenize + greedy (stops after EOS) + detokenize
// }
// RESPONSE: {"logits": [[[V floats] per position] per sequence], "greedy": [ids],
//            "tokenize": [[ids]], "generate_text": {"prompt_ids", "ids", "text"},
//            "info": {"vocab", "bos", "eos", "add_bos"}}
//
// Everything runs on the CPU with the prebuilt binary only (build: "never", no downloads), with
// an F32 KV cache and without flash attention, so the comparison is as tight as llama.cpp allows.
// The package is found through NODE_PATH or tests/fixtures/npm/node-llama-cpp/node_modules.
import fs from "node:fs";
import path from "node:path";
import {createRequire} from "node:module";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgRoot = process.env.RLHF_NODE_LLAMA_CPP_DIR ??
    path.join(here, "..", "..", "fixtures", "npm", "node-llama-cpp");

async function loadPackage() {
    const require = createRequire(path.join(pkgRoot, "package.json"));
    const entry = require.resolve("node-llama-cpp");
    return import(pathToFileURL(entry).href);
}

function argmax(values) {
    let best = 0;
    for (let i = 1; i < values.length; ++i) if (values[i] > values[best]) best = i;
    return best;
}

// Map<token, logit> (sorted by logit) -> dense array indexed by token id.
function dense(map, vocab) {
    const out = new Array(vocab).fill(null);
    for (const [token, logit] of map) out[token] = logit;
    if (out.some((x) => x === null)) throw new Error("llama.cpp returned logits for only part of the vocabulary");
    return out;
}

async function main() {
    if (process.argv.length !== 3) {
        console.error("usage: node ref.mjs REQUEST.json");
        process.exit(2);
    }
    const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const {getLlama, LlamaLogLevel} = await loadPackage();
    const llama = await getLlama({gpu: false, build: "never", skipDownload: true, progressLogs: false,
                                  logLevel: LlamaLogLevel.error, maxThreads: 2});
    const model = await llama.loadModel({modelPath: req.model, gpuLayers: 0});
    const ctxSize = req.context ?? 128;
    const context = await model.createContext({
        contextSize: ctxSize, batchSize: ctxSize, sequences: 1, threads: 2, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const seq = context.getSequence();
    const out = {info: {bos: model.tokens.bos, eos: model.tokens.eos, add_bos: model.tokens.shouldPrependBosToken}};

    // Logits after every position of a fresh sequence.
    async function allLogits(ids) {
        await seq.clearHistory();
        const res = await seq.controlledEvaluate(ids.map((t) => [t, {generateNext: {logits: true}}]));
        return res.map((r) => {
            const m = r.next.logits;
            return dense(m, m.size);
        });
    }
    // Argmax continuation; returns the new ids (ending with EOS when stopAtEos and it comes).
    async function greedy(prompt, n, stopAtEos = false) {
        await seq.clearHistory();
        const res = await seq.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1
            ? [t, {generateNext: {logits: true}}] : t));
        let logits = res[prompt.length - 1].next.logits;
        const ids = [];
        for (let k = 0; k < n; ++k) {
            const next = argmax(dense(logits, logits.size));
            ids.push(next);
            if (k + 1 === n || (stopAtEos && next === model.tokens.eos)) break;
            const r = await seq.controlledEvaluate([[next, {generateNext: {logits: true}}]]);
            logits = r[0].next.logits;
        }
        return ids;
    }
    function tokenize(text) {
        const ids = model.tokenize(text, true);  // special-token text becomes the special token, as in HF
        return model.tokens.shouldPrependBosToken && model.tokens.bos != null ? [model.tokens.bos, ...ids] : ids;
    }

    if (req.logits) {
        out.logits = [];
        for (const ids of req.logits) out.logits.push(await allLogits(ids));
        out.info.vocab = out.logits[0]?.[0]?.length;
    }
    if (req.greedy) out.greedy = await greedy(req.greedy.prompt, req.greedy.new_tokens);
    if (req.tokenize) out.tokenize = req.tokenize.map(tokenize);
    if (req.generate_text) {
        const prompt_ids = tokenize(req.generate_text.prompt);
        const ids = await greedy(prompt_ids, req.generate_text.new_tokens, /*stopAtEos=*/true);
        out.generate_text = {prompt_ids, ids, text: model.detokenize(ids, false)};
    }
    process.stdout.write(JSON.stringify(out) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    console.error(`ref.mjs: ${e?.stack ?? e}`);
    process.exit(1);
});
