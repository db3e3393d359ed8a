//! The timeline is a well-formed SVG document that shows what it should.

use super::*;
use crate::check;
use crate::history::{NemesisPhase, Outcome};
use crate::testing::*;
use crate::verdict::CheckLimits;

/// Checks the document is well formed enough for a browser: one `svg` root,
/// every tag closed in order, quoted attributes, text free of bare `<` and
/// of `&` that starts no entity. Returns the element names, in order.
fn well_formed(doc: &str) -> Vec<String> {
    assert!(doc.starts_with("<svg "), "{}", &doc[..doc.len().min(40)]);
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = doc;
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        assert!(!tag.contains('<'), "nested < in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else {
            let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(!name.is_empty(), "bad tag <{tag}>");
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1);
    names
}

fn check_text(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e)),
            "bare & in {text:?}"
        );
    }
}

fn run_with_faults() -> (Vec<Event>, CheckReport) {
    let mut h = EventsBuilder::default();
    h.at_ms(0).push(nemesis(NemesisPhase::Start, "partition"));
    h.at_ms(100).call(1, "k", reserve("a"), granted(10));
    h.at_ms(150)
        .push(nemesis(NemesisPhase::Start, "clock <skew> & \"drift\""));
    h.at_ms(200).call(2, "k", reserve("a"), took_over(12)); // too early
    h.at_ms(300).push(invoke(3, "k", Request::Get));
    h.at_ms(800).push(info(3));
    h.at_ms(900).push(invoke(4, "k", Request::Get));
    h.at_ms(901).push(fail(4));
    h.at_ms(1_000)
        .push(nemesis(NemesisPhase::Stop, "partition"));
    h.at_ms(1_200).call(5, "k", Request::Get, Outcome::NotFound);
    let report = check(&h.events, &CheckLimits::default());
    (h.events, report)
}

#[test]
fn the_timeline_is_well_formed_and_shows_lanes_points_and_violations() {
    let (events, report) = run_with_faults();
    assert!(!report.is_valid());
    let doc = timeline_svg(&events, &report);
    let names = well_formed(&doc);
    assert!(doc.contains(">partition</text>"), "a lane label");
    assert!(
        doc.contains("clock &lt;skew&gt; &amp; &quot;drift&quot;"),
        "escaped"
    );
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    // 3 ok and 1 info operation, the legend's 5 colours and 2 markers
    assert_eq!(count("circle"), 3 + 1 + 5 + 2, "{names:?}");
    assert!(
        doc.contains(r##"r="3.5" fill="none" stroke="#8c564b""##),
        "hollow info get"
    );
    assert!(
        count("path") >= 3,
        "the failed get, the legend's cross, violation marks"
    );
    assert!(doc.contains("violation: no-early-expiry"));
    assert!(doc.contains("latency (log scale)"));
    assert!(doc.contains("INVALID"));
}

#[test]
fn an_empty_history_still_gives_a_document() {
    let report = check(&[], &CheckLimits::default());
    let doc = timeline_svg(&[], &report);
    well_formed(&doc);
    assert!(doc.contains("VALID"));
}

#[test]
fn the_checker_of_well_formedness_rejects_broken_documents() {
    for broken in [
        "<svg><g></svg>",
        "<svg><text>a & b</text></svg>",
        "<svg a=\"1></svg>",
    ] {
        assert!(
            std::panic::catch_unwind(|| well_formed(broken)).is_err(),
            "{broken}"
        );
    }
}
