//! Interning of fingerprints and responses, so that model states are small
//! `Copy` values that hash fast.

use crate::history::StoredResponse;
use std::collections::HashMap;

/// An interned fingerprint, response or attempt id.
pub type Sym = u32;

/// The attempt of a reserve that sent none.
pub const NO_ATTEMPT: Sym = Sym::MAX;

/// One key's fingerprints and responses, both ways.
#[derive(Debug, Default)]
pub struct Symbols {
    fps: HashMap<String, Sym>,
    fp_names: Vec<String>,
    resps: HashMap<StoredResponse, Sym>,
    resp_values: Vec<StoredResponse>,
    attempts: HashMap<String, Sym>,
    /// Attempt ids more than one operation of the key carries; any other
    /// is interned as [`NO_ATTEMPT`] (it can resume nothing).
    shared_attempts: std::collections::HashSet<String>,
}

impl Symbols {
    pub fn fp(&mut self, fp: &str) -> Sym {
        if let Some(s) = self.fps.get(fp) {
            return *s;
        }
        let s = self.fp_names.len() as Sym;
        self.fps.insert(fp.to_string(), s);
        self.fp_names.push(fp.to_string());
        s
    }

    pub fn resp(&mut self, r: &StoredResponse) -> Sym {
        if let Some(s) = self.resps.get(r) {
            return *s;
        }
        let s = self.resp_values.len() as Sym;
        self.resps.insert(r.clone(), s);
        self.resp_values.push(r.clone());
        s
    }

    /// The attempt ids worth a symbol of their own.
    pub fn share_attempts(&mut self, attempts: impl IntoIterator<Item = String>) {
        self.shared_attempts.extend(attempts);
    }

    /// An attempt id's symbol ([`NO_ATTEMPT`] for none, or for one no other
    /// operation carries).
    pub fn attempt(&mut self, attempt: Option<&str>) -> Sym {
        let Some(a) = attempt.filter(|a| self.shared_attempts.contains(*a)) else {
            return NO_ATTEMPT;
        };
        let next = self.attempts.len() as Sym;
        *self.attempts.entry(a.to_string()).or_insert(next)
    }

    pub fn fp_name(&self, s: Sym) -> &str {
        self.fp_names.get(s as usize).map_or("?", String::as_str)
    }

    pub fn resp_value(&self, s: Sym) -> Option<&StoredResponse> {
        self.resp_values.get(s as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gets_the_same_symbol() {
        let mut s = Symbols::default();
        let a = s.fp("a");
        assert_eq!(s.fp("b"), a + 1);
        assert_eq!(s.fp("a"), a);
        assert_eq!(s.fp_name(a), "a");
        let r = StoredResponse {
            status: 200,
            body: "x".into(),
        };
        let sym = s.resp(&r);
        assert_eq!(s.resp(&r.clone()), sym);
        assert_eq!(s.resp_value(sym), Some(&r));
    }
}
