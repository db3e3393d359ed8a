//! A network the test controls: every node's requests go through one
//! [`Net`], which delivers them to the receiving node's `serve_peer`, or
//! loses, delays, reorders (random delays) or cuts them as the test says. Messages are copied through
//! the wire encoding, as TCP would carry them.
//!
//! A cut link behaves like an iptables DROP: the request (or its reply)
//! vanishes and the caller waits out its timeout, not knowing whether the
//! request arrived. A node not attached (not started yet, or stopped)
//! refuses the connection: the caller learns at once that nothing was
//! delivered.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use idem_cluster::{
    decode_message, encode_message, CallError, ClusterNode, NodeId, Request, Response, Transport,
};

#[derive(Default)]
pub struct Net {
    state: Mutex<NetState>,
}

#[derive(Default)]
struct NetState {
    /// Inter-node address → node id, for every node that has an address.
    ids: HashMap<String, NodeId>,
    /// The nodes that are up and receive.
    nodes: HashMap<NodeId, ClusterNode>,
    /// Directed links (from, to) on which every message is lost.
    cut: HashSet<(NodeId, NodeId)>,
    /// Directed links with a delay per message: at least the first, plus a
    /// random part up to the second (so messages overtake each other).
    delay: HashMap<(NodeId, NodeId), (Duration, Duration)>,
    /// Directed links that lose each message with this probability (in
    /// percent), as iptables' `statistic` match does.
    loss: HashMap<(NodeId, NodeId), u32>,
    /// Draws for loss and jitter (a fixed seed: runs repeat).
    rng: u64,
    /// Messages delivered so far, per kind (for tests that count).
    delivered: HashMap<&'static str, u64>,
}

impl NetState {
    /// The next number of a xorshift generator.
    fn draw(&mut self) -> u64 {
        if self.rng == 0 {
            self.rng = 0x9E37_79B9_7F4A_7C15;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

fn lock(net: &Net) -> std::sync::MutexGuard<'_, NetState> {
    net.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Net {
    pub fn new() -> Arc<Net> {
        Arc::new(Net::default())
    }

    /// `id` will listen at `addr` once attached.
    pub fn register(&self, id: NodeId, addr: &str) {
        lock(self).ids.insert(addr.to_string(), id);
    }

    /// The transport node `from` sends through.
    pub fn endpoint(self: &Arc<Self>, from: NodeId) -> Arc<dyn Transport> {
        Arc::new(Endpoint {
            net: self.clone(),
            from,
        })
    }

    /// `node` receives from now on.
    pub fn attach(&self, node: ClusterNode) {
        lock(self).nodes.insert(node.id(), node);
    }

    /// `id` receives nothing any more (it was stopped).
    pub fn detach(&self, id: NodeId) {
        lock(self).nodes.remove(&id);
    }

    /// Cuts every link between the groups (each group stays connected
    /// inside); nodes in no group are cut from everyone.
    pub fn partition(&self, groups: &[&[NodeId]]) {
        let mut s = lock(self);
        let all: BTreeSet<NodeId> = s.ids.values().copied().collect();
        let group_of = |id: NodeId| groups.iter().position(|g| g.contains(&id));
        for &a in &all {
            for &b in &all {
                if a != b && (group_of(a).is_none() || group_of(a) != group_of(b)) {
                    s.cut.insert((a, b));
                }
            }
        }
    }

    /// Cuts `id` from every other node, both ways.
    pub fn isolate(&self, id: NodeId) {
        let mut s = lock(self);
        let others: Vec<NodeId> = s.ids.values().copied().filter(|o| *o != id).collect();
        for o in others {
            s.cut.insert((id, o));
            s.cut.insert((o, id));
        }
    }

    /// Delays every message on `from` → `to` by `by`.
    pub fn delay(&self, from: NodeId, to: NodeId, by: Duration) {
        lock(self).delay.insert((from, to), (by, Duration::ZERO));
    }

    /// Delays every message on `from` → `to` by a random time up to `max`,
    /// drawn per message, so that later messages overtake earlier ones.
    pub fn jitter(&self, from: NodeId, to: NodeId, max: Duration) {
        lock(self).delay.insert((from, to), (Duration::ZERO, max));
    }

    /// Loses each message (a request or its reply) on `from` → `to` with
    /// probability `percent`/100.
    pub fn lose(&self, from: NodeId, to: NodeId, percent: u32) {
        lock(self).loss.insert((from, to), percent.min(100));
    }

    /// Restores every link and removes every delay and loss.
    pub fn heal(&self) {
        let mut s = lock(self);
        s.cut.clear();
        s.delay.clear();
        s.loss.clear();
    }

    /// How many requests of `kind` (`"append"`, `"forward"`, `"read_index"`,
    /// ...) were delivered so far.
    pub fn delivered(&self, kind: &str) -> u64 {
        lock(self).delivered.get(kind).copied().unwrap_or(0)
    }

    /// Whether the next message on `from` → `to` is lost (the link is
    /// cut, or the draw says so).
    fn is_lost(&self, from: NodeId, to: NodeId) -> bool {
        let mut s = lock(self);
        if s.cut.contains(&(from, to)) {
            return true;
        }
        let percent = s.loss.get(&(from, to)).copied().unwrap_or(0);
        percent > 0 && s.draw() % 100 < u64::from(percent)
    }

    fn delay_of(&self, from: NodeId, to: NodeId) -> Duration {
        let mut s = lock(self);
        let (least, random) = s.delay.get(&(from, to)).copied().unwrap_or_default();
        let random_us = u64::try_from(random.as_micros()).unwrap_or(u64::MAX);
        let extra = if random_us == 0 {
            0
        } else {
            s.draw() % random_us
        };
        least + Duration::from_micros(extra)
    }
}

fn kind(request: &Request) -> &'static str {
    match request {
        Request::AppendEntries(_) => "append",
        Request::Vote(_) => "vote",
        Request::InstallSnapshot(_) => "snapshot",
        Request::Forward(_) => "forward",
        Request::ReadIndex => "read_index",
        Request::Membership(_) => "membership",
        Request::ClockProbe => "clock_probe",
    }
}

struct Endpoint {
    net: Arc<Net>,
    from: NodeId,
}

impl Endpoint {
    async fn deliver(
        &self,
        to: &str,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = || CallError::Timeout {
            addr: to.to_string(),
            timeout,
        };
        let refused = || CallError::Unreachable {
            addr: to.to_string(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let wire = |e| CallError::Wire {
            addr: to.to_string(),
            source: e,
        };
        let (target, node) = {
            let s = lock(&self.net);
            let Some(&target) = s.ids.get(to) else {
                return Err(refused());
            };
            (target, s.nodes.get(&target).cloned())
        };
        let lost = || async {
            tokio::time::sleep_until(deadline).await;
            Err(timed_out())
        };
        if self.net.is_lost(self.from, target) {
            return lost().await;
        }
        let Some(node) = node else {
            return Err(refused());
        };
        // A message later than the caller's patience is as good as lost.
        let late = |delay: Duration| tokio::time::Instant::now() + delay > deadline;
        let delay = self.net.delay_of(self.from, target);
        if late(delay) {
            return lost().await;
        }
        tokio::time::sleep(delay).await;
        let copy: Request =
            decode_message(&encode_message(request).map_err(wire)?).map_err(wire)?;
        *lock(&self.net).delivered.entry(kind(&copy)).or_default() += 1;
        // The receiver carries on with a request whose sender gave up, as a
        // real peer would.
        let serving = tokio::spawn(async move { node.serve_peer(copy).await });
        let response = match tokio::time::timeout_at(deadline, serving).await {
            Ok(Ok(response)) => response,
            // The receiver failed while serving: it may have acted on the
            // request, so the caller learns nothing until its timeout.
            Ok(Err(_)) => return lost().await,
            Err(_) => return Err(timed_out()),
        };
        if self.net.is_lost(target, self.from) {
            return lost().await;
        }
        let delay = self.net.delay_of(target, self.from);
        if late(delay) {
            return lost().await;
        }
        tokio::time::sleep(delay).await;
        decode_message(&encode_message(&response).map_err(wire)?).map_err(wire)
    }
}

impl Transport for Endpoint {
    fn call<'a>(
        &'a self,
        to: &'a str,
        request: &'a Request,
        timeout: Duration,
        _repeatable: bool,
    ) -> BoxFuture<'a, Result<Response, CallError>> {
        self.deliver(to, request, timeout).boxed()
    }
}
