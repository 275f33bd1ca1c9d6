// Writes tests/fixtures/demo/hf_ids.jsonl: Hugging Face tokenizers' ids and decode for the demo
// tokenizer (tests/fixtures/demo/tokenizer.json, made by test_demo_tokenizer with
// RLHF_WRITE_FIXTURES=1) on held-out review text and a few hard strings.
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm install @anush008/tokenizers@0.6.0
//   NODE_PATH=/tmp/tokref/node_modules node tests/tools/demo/hf_ids.js
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@anush008/tokenizers');
const dir = path.resolve(__dirname, '..', '..', 'fixtures', 'demo');
const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
const texts = [
  'The blender I bought last week it is great. I love it.',
  'My new lamp it is awful. The battery is very flimsy.',
  'After a month with this tent, it is sturdy. Would buy again, solid handle.',
  'Honestly, the printer it is defective. Never again, faulty cable.',
  'user: Write a review of a kettle.\nassistant: ',
  '', ' ', '  two  spaces', 'tabs\tand\nnewlines\r\n', 'Numbers 1234567 and 3.14',
  "it's they'll we've I'd", 'Unseen words: zebra quantum 日本語 🙂 café',
  'The monitor arrived and it is brilliant.', 'Our suitcase it is cheap.<|endoftext|>',
  'I ordered the coffee maker and it is pleasant. The lid is quite superb.',
  'This speaker it is noisy. I returned it.', 'We have used the vacuum daily and it is fast.',
  'The rice cooker arrived and', 'I got this watch as a gift and', 'After a month with this phone case,',
  'Our mattress', 'ALL CAPS REVIEW IT IS GREAT!!!',
];
const out = [];
(async () => {
  for (const t of texts) {
    const enc = await tok.encode(t, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    const decoded = await tok.decode(ids, false);
    const special = await tok.encode(t, null, { addSpecialTokens: true });
    out.push(JSON.stringify({ text: t, ids, ids_special: Array.from(special.getIds()), decoded }));
  }
  fs.writeFileSync(path.join(dir, 'hf_ids.jsonl'), out.join('\n') + '\n');
  console.log(`wrote ${out.length} cases`);
})();
