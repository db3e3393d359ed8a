//! A network that loses and reorders messages on every link: commands and
//! reads still mean what they say. Every acknowledged grant is on every
//! node afterwards, and a key contended by many callers is granted once.

use std::collections::BTreeMap;
use std::time::Duration;

use idem_core::Record;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_and_reordered_messages_change_nothing_that_was_acknowledged() {
    let c = TestCluster::start(3, |_| {}).await;
    c.leader().await;
    let nodes: Vec<_> = c.nodes.keys().copied().collect();
    for &a in &nodes {
        for &b in &nodes {
            if a != b {
                c.net.lose(a, b, 10);
                c.net.jitter(a, b, Duration::from_millis(20));
            }
        }
    }
    // 60 fresh keys, and one key contended by 30 callers at once.
    let calls: Vec<_> = (0..90)
        .map(|i| {
            let node = c.node(nodes[i % nodes.len()]).clone();
            let name = if i < 60 {
                format!("fresh-{i}")
            } else {
                "hot".to_string()
            };
            tokio::spawn(async move { (name.clone(), node.execute(reserve(&name, 30_000)).await) })
        })
        .collect();
    let mut grants: BTreeMap<String, Vec<idem_core::FencingToken>> = BTreeMap::new();
    for call in calls {
        let (name, result) = call.await.expect("task");
        if let Some(token) = result.ok().as_ref().and_then(granted) {
            grants.entry(name).or_default().push(token);
        }
    }
    let hot = grants.get("hot").map_or(0, Vec::len);
    assert!(hot <= 1, "the contended key was granted {hot} times");
    assert!(
        grants.len() > 30,
        "most commands get through a lossy network: {}",
        grants.len()
    );

    c.net.heal();
    c.leader().await;
    for (name, tokens) in &grants {
        for &id in &nodes {
            match c.read(id, name).await.expect("read after healing") {
                Some(Record::InProgress(r)) => {
                    assert_eq!(r.token, tokens[0], "{name} on node {id}")
                }
                other => panic!("{name}: granted {tokens:?}, node {id} reads {other:?}"),
            }
        }
    }
}
