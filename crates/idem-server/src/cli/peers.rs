//! Parsing `--peers 1=127.0.0.1:7101/127.0.0.1:8101,2=...`.

use std::collections::BTreeMap;

use idem_cluster::{NodeAddr, NodeId};

/// Parses a comma-separated list of `ID=RAFT_ADDR/HTTP_ADDR` (the HTTP part
/// may be left out).
pub fn parse_peers(text: &str) -> Result<BTreeMap<NodeId, NodeAddr>, String> {
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, addrs) = item
            .split_once('=')
            .ok_or_else(|| format!("peer {item:?}: expected ID=RAFT_ADDR/HTTP_ADDR"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .map_err(|_| format!("peer {item:?}: {id:?} is not a node id"))?;
        let (raft, http) = match addrs.split_once('/') {
            Some((r, h)) => (r.trim().to_string(), h.trim().to_string()),
            None => (addrs.trim().to_string(), String::new()),
        };
        if raft.is_empty() {
            return Err(format!("peer {item:?}: missing raft address"));
        }
        if out.insert(id, NodeAddr { raft, http }).is_some() {
            return Err(format!("peer {id} is listed twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse() {
        let p = parse_peers("1=127.0.0.1:7101/127.0.0.1:8101, 2=h:2").unwrap();
        assert_eq!(p[&1].http, "127.0.0.1:8101");
        assert_eq!(p[&2].raft, "h:2");
        assert!(parse_peers("x=1").is_err());
        assert!(parse_peers("1=a,1=b").is_err());
        assert!(parse_peers("1").is_err());
    }
}
