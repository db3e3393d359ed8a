//! The leader is cut off while commands are in flight (many of them sharing
//! entries). Whatever each caller was told holds afterwards: an
//! acknowledged grant is in the new leader's state, a command reported as
//! certainly not applied is not, and no key is ever granted twice. (Cut off
//! by a dropping network, most unacknowledged commands end as timeouts;
//! the second scenario makes "certainly not applied" happen on purpose.)

use std::collections::BTreeMap;

use idem_core::{Outcome, Record, ReserveOutcome};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_each_caller_was_told_holds_after_a_leader_change_mid_batch() {
    let c = TestCluster::start(3, |_| {}).await;
    let old = c.leader().await;
    let nodes: Vec<_> = c.nodes.keys().copied().collect();
    let before = c.node(old).status().last_applied_index.unwrap_or(0);
    let calls: Vec<_> = (0..150)
        .map(|i| {
            let node = c.node(nodes[i % nodes.len()]).clone();
            let name = format!("mid-{i}");
            tokio::spawn(async move { (name.clone(), node.execute(reserve(&name, 30_000)).await) })
        })
        .collect();
    // Cut the leader off once some of the commands are applied.
    eventually(
        std::time::Duration::from_secs(5),
        "some commands applied",
        || {
            let applied = c.node(old).status().last_applied_index.unwrap_or(0);
            async move { applied > before }
        },
    )
    .await;
    c.net.isolate(old);

    let mut told = BTreeMap::new();
    for call in calls {
        let (name, result) = call.await.expect("task");
        told.insert(name, result);
    }
    let others = c.others(old);
    let new = c.leader_among(&others).await;
    c.net.heal();

    let (mut acknowledged, mut refused, mut unknown) = (0, 0, 0);
    for (name, result) in &told {
        let record = c.read(new, name).await.expect("read on the new leader");
        match result {
            Ok(outcome) => {
                acknowledged += 1;
                let token = granted(outcome).expect("a fresh key is granted");
                match &record {
                    Some(Record::InProgress(r)) => assert_eq!(r.token, token, "{name}"),
                    other => panic!("{name}: granted {token:?}, but the new leader has {other:?}"),
                }
            }
            Err(e) if e.certainly_not_applied() => {
                refused += 1;
                assert!(
                    record.is_none(),
                    "{name}: told {e}, but it was applied: {record:?}"
                );
            }
            Err(_) => unknown += 1,
        }
        // Whatever happened, a second reserve never gets a second grant of
        // a key that is held.
        let again = c
            .execute(new, reserve(name, 30_000))
            .await
            .expect("reserve again");
        match (&record, &again) {
            (Some(_), Outcome::Reserve(ReserveOutcome::InProgress { .. })) => {}
            (None, Outcome::Reserve(ReserveOutcome::Reserved { .. })) => {}
            _ => panic!("{name}: held as {record:?}, a second reserve got {again:?}"),
        }
    }
    assert!(
        acknowledged > 0,
        "some commands were acknowledged before the cut"
    );
    eprintln!(
        "acknowledged {acknowledged}, certainly not applied {refused}, indeterminate {unknown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_knows_no_leader_refuses_and_what_it_refused_is_not_applied() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let lone = c.others(leader)[0];
    c.net.isolate(lone);
    // Cut off, it runs for leader and so no longer names one.
    eventually(
        std::time::Duration::from_secs(10),
        "the isolated node names no leader",
        || {
            let leaderless = c.node(lone).status().leader.is_none();
            async move { leaderless }
        },
    )
    .await;
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let node = c.node(lone).clone();
            let name = format!("lone-{i}");
            tokio::spawn(async move { (name.clone(), node.execute(reserve(&name, 30_000)).await) })
        })
        .collect();
    let mut refused = Vec::new();
    for call in calls {
        let (name, result) = call.await.expect("task");
        match result {
            Err(e) if e.certainly_not_applied() => refused.push(name),
            Err(_) => {}
            Ok(outcome) => panic!("{name}: a node that knows no leader answered {outcome:?}"),
        }
    }
    assert!(
        !refused.is_empty(),
        "no command was refused as certainly not applied"
    );
    c.net.heal();
    let leader = c.leader().await;
    for name in &refused {
        let record = c.read(leader, name).await.expect("read");
        assert!(
            record.is_none(),
            "{name}: refused as not applied, but {record:?}"
        );
    }
}
