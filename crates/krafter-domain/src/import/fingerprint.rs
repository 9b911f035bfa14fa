//! A SARIF result's external id: the same result in the next scan gets the same one, even when
//! its lines moved.
//!
//! The id is the lowercase hex SHA-256 of a list of parts, each written as its length in bytes
//! (decimal), `:`, and its UTF-8 bytes. The parts are a basis name, the rule id (empty when the
//! result has none), what the basis takes, and last the occurrence: 0 for the first result of
//! the import with the same earlier parts, 1 for the second, and so on. The basis is the first
//! of these that the result has:
//!
//! 1. `fingerprints`: every entry of the result's `fingerprints`, by key, as key then value;
//! 2. `partialFingerprints`: the same with `partialFingerprints` (CodeQL's
//!    `primaryLocationLineHash`, Semgrep's `matchBasedId/v1`);
//! 3. `snippet`: the first location's `artifactLocation.uri` and its region's `snippet.text`,
//!    normalised: each line trimmed of whitespace, blank lines dropped, joined by `\n`;
//! 4. `line`: the URI and the region's `startLine`, when there is no snippet;
//! 5. `message`: the URI (empty without a location) and the message text normalised as a
//!    snippet is.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use crate::ledger::ExternalId;

/// What a result's identity is computed from.
#[derive(Debug, Clone, Copy)]
pub enum Basis<'a> {
    Fingerprints(&'a BTreeMap<String, String>),
    PartialFingerprints(&'a BTreeMap<String, String>),
    Snippet { uri: &'a str, snippet: &'a str },
    Line { uri: &'a str, line: u64 },
    Message { uri: &'a str, message: &'a str },
}

impl Basis<'_> {
    fn parts(&self, rule_id: &str) -> Vec<String> {
        let mut parts = Vec::with_capacity(6);
        let map = |name: &str, entries: &BTreeMap<String, String>, parts: &mut Vec<String>| {
            parts.push(name.to_owned());
            parts.push(rule_id.to_owned());
            for (key, value) in entries {
                parts.push(key.clone());
                parts.push(value.clone());
            }
        };
        match *self {
            Basis::Fingerprints(f) => map("fingerprints", f, &mut parts),
            Basis::PartialFingerprints(f) => map("partialFingerprints", f, &mut parts),
            Basis::Snippet { uri, snippet } => parts.extend([
                "snippet".into(),
                rule_id.into(),
                uri.into(),
                normalise(snippet),
            ]),
            Basis::Line { uri, line } => {
                parts.extend(["line".into(), rule_id.into(), uri.into(), line.to_string()])
            }
            Basis::Message { uri, message } => parts.extend([
                "message".into(),
                rule_id.into(),
                uri.into(),
                normalise(message),
            ]),
        }
        parts
    }
}

/// Each line trimmed, blank lines dropped, joined by `\n`: indentation and blank lines around
/// the code do not make it another result.
pub fn normalise(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn digest(parts: &[String]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_string().as_bytes());
        hasher.update(b":");
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

/// Gives the results of one import their ids, counting identical ones.
#[derive(Debug, Default)]
pub struct Fingerprinter {
    seen: HashMap<[u8; 32], u32>,
}

impl Fingerprinter {
    pub fn external_id(&mut self, rule_id: &str, basis: &Basis<'_>) -> ExternalId {
        let mut parts = basis.parts(rule_id);
        let count = self.seen.entry(digest(&parts)).or_insert(0);
        parts.push(count.to_string());
        *count += 1;
        let hex: String = digest(&parts).iter().map(|b| format!("{b:02x}")).collect();
        ExternalId::parse(&hex).expect("64 hex digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(rule: &str, basis: Basis<'_>) -> String {
        Fingerprinter::default()
            .external_id(rule, &basis)
            .as_str()
            .to_owned()
    }

    #[test]
    fn a_snippet_matches_wherever_its_lines_are_and_however_indented() {
        let a = id(
            "B602",
            Basis::Snippet {
                uri: "a.py",
                snippet: "    subprocess.call(x, shell=True)\n",
            },
        );
        let b = id(
            "B602",
            Basis::Snippet {
                uri: "a.py",
                snippet: "subprocess.call(x, shell=True)",
            },
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            id(
                "B603",
                Basis::Snippet {
                    uri: "a.py",
                    snippet: "subprocess.call(x, shell=True)"
                }
            )
        );
        assert_ne!(
            a,
            id(
                "B602",
                Basis::Snippet {
                    uri: "b.py",
                    snippet: "subprocess.call(x, shell=True)"
                }
            )
        );
    }

    #[test]
    fn identical_results_in_one_file_are_counted_apart() {
        let mut f = Fingerprinter::default();
        let basis = Basis::Snippet {
            uri: "a.py",
            snippet: "assert x",
        };
        let first = f.external_id("B101", &basis);
        let second = f.external_id("B101", &basis);
        assert_ne!(first, second);
        let mut again = Fingerprinter::default();
        assert_eq!(again.external_id("B101", &basis), first);
        assert_eq!(again.external_id("B101", &basis), second);
    }

    #[test]
    fn the_documented_recipe_gives_the_id() {
        // SHA-256 of "7:snippet4:B1014:a.py8:assert x1:0", computed independently.
        let mut hasher = Sha256::new();
        hasher.update(b"7:snippet4:B1014:a.py8:assert x1:0");
        let expected: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            id(
                "B101",
                Basis::Snippet {
                    uri: "a.py",
                    snippet: "assert x"
                }
            ),
            expected
        );
    }

    #[test]
    fn fingerprints_are_taken_with_the_rule_in_key_order() {
        let mut one = BTreeMap::new();
        one.insert("primaryLocationLineHash".to_owned(), "abc:1".to_owned());
        let a = id("js/xss", Basis::PartialFingerprints(&one));
        assert_eq!(a, id("js/xss", Basis::PartialFingerprints(&one.clone())));
        assert_ne!(a, id("js/sqli", Basis::PartialFingerprints(&one)));
        assert_ne!(a, id("js/xss", Basis::Fingerprints(&one)));
    }
}
