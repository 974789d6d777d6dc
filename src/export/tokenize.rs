//! Words and their positions, as Label Studio's CONLL2003 export finds them: NLTK's Penn
//! Treebank tokenizer (`TreebankWordTokenizer.span_tokenize`) with the converter's own
//! punctuation rules (which also split at `/`).
//!
//! The tokenizer rewrites the text with a fixed list of substitutions, splits it at
//! whitespace, then finds each token in the original text from where the previous one
//! ended. Positions are counted in characters (Python string indices), as the spans
//! (`start`, `end`) of Label Studio's named entities are.

use std::sync::LazyLock;

use regex::Regex;

/// One substitution: a pattern and its replacement (`${n}` for groups).
struct Rule(Regex, &'static str);

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    Rule(
        Regex::new(pattern).unwrap_or_else(|e| panic!("tokenizer pattern {pattern}: {e}")),
        replacement,
    )
}

/// The substitutions in the order NLTK applies them. Python's `$` also matches before a
/// final newline, written here as `(\n?)\z` with the newline kept; NLTK's one lookahead
/// (`wanna` before whitespace) consumes the space and puts it back.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // Starting quotes.
        rule(r#"^""#, "``"),
        rule(r"(``)", " ${1} "),
        rule(r#"([ (\[{<])("|'{2})"#, "${1} `` "),
        // The converter's punctuation rules.
        rule(r"([:,])([^\d])", " ${1} ${2}"),
        rule(r"([:,])(\n?)\z", " ${1} ${2}"),
        rule(r"\.\.\.", " ... "),
        rule(r"[;@#$/%&]", " ${0} "),
        rule(r#"([^.])(\.)([\])}>"']*)\s*\z"#, "${1} ${2}${3} "),
        rule(r"[?!]", " ${0} "),
        rule(r"([^'])' ", "${1} ' "),
        // Brackets and double dashes.
        rule(r"[\]\[(){}<>]", " ${0} "),
        rule(r"--", " -- "),
    ]
});

/// Applied after the text is padded with a space on each side.
static ENDING_RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        rule(r"''", " '' "),
        rule(r#"""#, " '' "),
        rule(r"([^' ])('[sS]|'[mM]|'[dD]|') ", "${1} ${2} "),
        rule(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "${1} ${2} "),
        // Contractions.
        rule(r"(?i)\b(can)(not)\b", " ${1} ${2} "),
        rule(r"(?i)\b(d)('ye)\b", " ${1} ${2} "),
        rule(r"(?i)\b(gim)(me)\b", " ${1} ${2} "),
        rule(r"(?i)\b(gon)(na)\b", " ${1} ${2} "),
        rule(r"(?i)\b(got)(ta)\b", " ${1} ${2} "),
        rule(r"(?i)\b(lem)(me)\b", " ${1} ${2} "),
        rule(r"(?i)\b(more)('n)\b", " ${1} ${2} "),
        rule(r"(?i)\b(wan)(na)(\s)", " ${1} ${2} ${3}"),
        rule(r"(?i) ('t)(is)\b", " ${1} ${2} "),
        rule(r"(?i) ('t)(was)\b", " ${1} ${2} "),
    ]
});

/// What NLTK turns quotes into, and how it finds them again in the original text.
static QUOTES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"``|'{2}|""#).unwrap_or_else(|e| panic!("quote pattern: {e}")));

/// Python's `str.isspace` (what `str.split()` splits at).
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The tokens of `text`.
fn tokenize(text: &str) -> Vec<String> {
    let mut text = text.to_string();
    for Rule(pattern, replacement) in RULES.iter() {
        text = pattern.replace_all(&text, *replacement).into_owned();
    }
    let mut text = format!(" {text} ");
    for Rule(pattern, replacement) in ENDING_RULES.iter() {
        text = pattern.replace_all(&text, *replacement).into_owned();
    }
    text.split(is_python_space)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Each token of `text` with the character index where it starts. A token that cannot
/// be found again (NLTK raises, failing Label Studio's whole export) ends the list.
pub fn tokens_with_starts(text: &str) -> Vec<(String, usize)> {
    let mut tokens = tokenize(text);
    if text.contains('"') || text.contains("''") {
        let mut originals = QUOTES.find_iter(text).map(|m| m.as_str().to_string());
        for token in tokens.iter_mut() {
            if matches!(token.as_str(), "\"" | "``" | "''")
                && let Some(original) = originals.next()
            {
                *token = original;
            }
        }
    }
    let mut found = Vec::with_capacity(tokens.len());
    let (mut byte_point, mut char_point) = (0, 0);
    for token in tokens {
        let Some(offset) = text[byte_point..].find(token.as_str()) else {
            break;
        };
        let start_byte = byte_point + offset;
        let start_char = char_point + text[byte_point..start_byte].chars().count();
        byte_point = start_byte + token.len();
        char_point = start_char + token.chars().count();
        found.push((token, start_char));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokens_with_starts(text)
            .into_iter()
            .map(|(t, _)| t)
            .collect()
    }

    #[test]
    fn splits_as_nltk_with_label_studio_punctuation() {
        assert_eq!(
            words(
                "Dr. Smith's lab (in New York) can't wait... \"Quoted\" words; e-mail: a@b.c -- done."
            ),
            [
                "Dr.", "Smith", "'s", "lab", "(", "in", "New", "York", ")", "ca", "n't", "wait",
                "...", "\"", "Quoted", "\"", "words", ";", "e-mail", ":", "a", "@", "b.c", "--",
                "done", "."
            ]
        );
        assert_eq!(words("and/or cannot"), ["and", "/", "or", "can", "not"]);
        assert_eq!(words("3,36 euros, ok"), ["3,36", "euros", ",", "ok"]);
    }

    /// Texts NLTK itself tokenized (tests/export_fixtures/record_tokenizer.py).
    #[test]
    fn agrees_with_nltk_on_recorded_texts() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../tests/export_fixtures/treebank.json"))
                .unwrap();
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let expected: Vec<(String, usize)> = case["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t[0].as_str().unwrap().to_string(),
                        t[1].as_u64().unwrap() as usize,
                    )
                })
                .collect();
            assert_eq!(tokens_with_starts(text), expected, "{text:?}");
        }
    }

    #[test]
    fn starts_are_character_indices() {
        let found = tokens_with_starts("Çà va, été.");
        assert_eq!(
            found,
            vec![
                ("Çà".to_string(), 0),
                ("va".to_string(), 3),
                (",".to_string(), 5),
                ("été".to_string(), 7),
                (".".to_string(), 10)
            ]
        );
    }
}
