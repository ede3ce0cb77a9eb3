//! The fuzz target's corpus, replayed through the same function the fuzz target calls.

use std::path::Path;

#[test]
fn every_corpus_input_parses_or_fails_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    let mut n = 0;
    let mut accepted = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        n += 1;
        match scenarios::fuzz_parse(&data) {
            Some(Ok(_)) => accepted += 1,
            Some(Err(e)) => {
                let msg = e.to_string();
                assert!(!msg.is_empty(), "{}: empty error", path.display());
                assert!(
                    !msg.contains("Error {"),
                    "{}: Debug dump in {msg}",
                    path.display()
                );
            }
            None => {}
        }
    }
    assert!(n >= 15, "corpus has {n} inputs");
    assert!(
        accepted >= 3,
        "only {accepted} corpus inputs were valid scenarios"
    );
}
