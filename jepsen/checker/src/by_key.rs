//! Operations grouped by key (every rule but token uniqueness is per key).

use crate::ops::Op;
use std::collections::BTreeMap;

/// One key's operations, in invocation order.
#[derive(Debug)]
pub struct KeyOps<'a> {
    pub key: &'a str,
    pub ops: Vec<&'a Op>,
}

/// Groups `ops` (in invocation order) by key, keys in order.
pub fn group(ops: &[Op]) -> Vec<KeyOps<'_>> {
    let mut map: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        map.entry(op.key.as_str()).or_default().push(op);
    }
    map.into_iter()
        .map(|(key, ops)| KeyOps { key, ops })
        .collect()
}

impl<'a> KeyOps<'a> {
    /// The acknowledged grants (`ok` reserve answered `reserved`), with
    /// their tokens, in invocation order.
    pub fn grants(&self) -> Vec<(u64, &'a Op)> {
        self.ops
            .iter()
            .filter_map(|op| op.granted_token().map(|t| (t, *op)))
            .collect()
    }

    /// [`Self::grants`] in token order (ties by invocation): each grant
    /// next to the one it succeeded.
    pub fn grants_by_token(&self) -> Vec<(u64, &'a Op)> {
        let mut grants = self.grants();
        grants.sort_by_key(|(t, op)| (*t, op.invoke.seq));
        grants
    }
}
