"""Records how Label Studio's CONLL2003 export tokenizes some awkward texts (NLTK's
Treebank tokenizer with the converter's punctuation rules), for src/export/tokenize.rs.

    python3 tests/export_fixtures/record_tokenizer.py > tests/export_fixtures/treebank.json
"""

import json

from label_studio_sdk.converter.utils import create_tokens_and_tags  # noqa: F401 (sets the rules)
from nltk.tokenize.treebank import TreebankWordTokenizer

TEXTS = [
    "Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks.",
    "They'll save and invest more.",
    "hi, my name can't hello,",
    "\"Hello,\" she said: 'it's 5:30 -- isn't it?'",
    "Wanna go? Gonna be fun, gimme a sec... lemme see!",
    "'Tis the season; 'twas fun.",
    "She said ``quoted'' and \"double\" (nested [brackets] {and} <angles>).",
    "URLs like https://example.com/a/b?x=1&y=2#frag and e-mail a.b@c.org.",
    "Prices: 3,36 euros, 1,000,000 people; 50% off & more #tags @people",
    "Ends with a colon:",
    "Ends with a colon and a newline:\n",
    "Trailing period inside quotes.\"",
    "Cannot CANNOT can not d'ye more'n",
    "Ça va? Très bien! Übermäßig... naïve café.",
    "Tabs\tand\u00a0non-breaking\u2003spaces\u2028line sep.",
    "Multiple   spaces    between words .",
    "O'Neil's dog's bone ain't there, y'all.",
    "1.5 2. .3 ... .... ?! !?",
    "",
    "   ",
    "a/b/c //// --- ----",
    "He said ''hi'' then \"bye\"",
]

tokenizer = TreebankWordTokenizer()
cases = []
for text in TEXTS:
    spans = list(tokenizer.span_tokenize(text))
    cases.append({"text": text, "tokens": [[text[s:e], s] for s, e in spans]})
print(json.dumps(cases, ensure_ascii=False, indent=1))
