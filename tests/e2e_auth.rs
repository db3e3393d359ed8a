//! End-to-end: who may call what. Every route against eight callers (no
//! key, an unknown key, an expired key, a revoked key, a client key of
//! another namespace, a client key of this namespace, a monitor key and an
//! admin key), each request sent to another node of a real three-node
//! cluster: the right status each time, and whenever access was refused
//! the state the request aimed at is unchanged on all three nodes. Then a
//! revocation followed at once by a request on each node: refused on all.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{record_facts, send_as, Cluster};

const NS: &str = "ns1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    NoKey,
    Unknown,
    Expired,
    Revoked,
    OtherNamespace,
    ThisNamespace,
    Monitor,
    Admin,
}

const CALLERS: [Caller; 8] = [
    Caller::NoKey,
    Caller::Unknown,
    Caller::Expired,
    Caller::Revoked,
    Caller::OtherNamespace,
    Caller::ThisNamespace,
    Caller::Monitor,
    Caller::Admin,
];

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Anyone,
    /// A client key of the namespace (or an admin key).
    Client,
    /// A monitor or admin key.
    Monitor,
    Admin,
}

/// What a refused request must leave unchanged.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// The record of the held key.
    HeldRecord,
    /// The namespace's policy.
    Policy,
    /// The list of API keys.
    Keys,
    /// The namespace's quota.
    Quota,
    /// The members (ids and voters).
    Members,
    Nothing,
}

struct Route {
    method: &'static str,
    /// `{key}`: the held key when refused, a fresh one when allowed;
    /// `{spare}`: an API key id that may be rotated or revoked.
    path: &'static str,
    body: Option<Value>,
    need: Need,
    /// The status an allowed caller gets (on a fresh key).
    allowed: u16,
    probe: Probe,
}

fn routes() -> Vec<Route> {
    let r = |method, path, body: Option<Value>, need, allowed, probe| Route {
        method,
        path,
        body,
        need,
        allowed,
        probe,
    };
    use Need::*;
    use Probe::*;
    vec![
        r(
            "POST",
            "/v1/ns/ns1/keys/{key}/reserve",
            Some(json!({"fingerprint": "fp"})),
            Client,
            201,
            HeldRecord,
        ),
        // A token that owns nothing: an allowed caller is told 409 key-lost.
        r(
            "POST",
            "/v1/ns/ns1/keys/{key}/heartbeat",
            Some(json!({"token": 1})),
            Client,
            409,
            HeldRecord,
        ),
        r(
            "POST",
            "/v1/ns/ns1/keys/{key}/complete",
            Some(json!({"token": 1, "response": {"status": 200, "body": "x"}})),
            Client,
            409,
            HeldRecord,
        ),
        r(
            "POST",
            "/v1/ns/ns1/keys/{key}/release",
            Some(json!({"token": 1})),
            Client,
            409,
            HeldRecord,
        ),
        r("GET", "/v1/ns/ns1/keys/{key}", None, Client, 404, Nothing),
        r(
            "POST",
            "/v1/ns/ns1/keys",
            Some(json!({})),
            Client,
            201,
            Nothing,
        ),
        r(
            "POST",
            "/v1/ns/ns1/derive",
            Some(json!({"payload": {"order": 1}})),
            Client,
            200,
            Nothing,
        ),
        r("GET", "/v1/ns/ns1", None, Client, 200, Nothing),
        r(
            "PUT",
            "/v1/ns/ns1",
            Some(json!({"default_lease_ms": 20_000})),
            Admin,
            200,
            Policy,
        ),
        r("GET", "/v1/ns/ns1/quota", None, Client, 200, Nothing),
        r(
            "PUT",
            "/v1/ns/ns1/quota",
            Some(json!({"max_records": 100000})),
            Admin,
            200,
            Quota,
        ),
        r("GET", "/v1/cluster", None, Monitor, 200, Nothing),
        r("GET", "/metrics", None, Monitor, 200, Nothing),
        r("GET", "/v1/cluster/members", None, Monitor, 200, Nothing),
        // Node id 0 is invalid: an admin gets the 400 and nothing changes.
        r(
            "POST",
            "/v1/cluster/members",
            Some(json!({"id": 0, "raft_addr": "127.0.0.1:1"})),
            Admin,
            400,
            Members,
        ),
        r(
            "DELETE",
            "/v1/cluster/members/99",
            None,
            Admin,
            404,
            Members,
        ),
        r("GET", "/v1/auth/keys", None, Admin, 200, Nothing),
        r(
            "POST",
            "/v1/auth/keys",
            Some(json!({"name": "made", "role": "client", "namespaces": ["ns1"]})),
            Admin,
            201,
            Keys,
        ),
        r("GET", "/v1/auth/keys/{spare}", None, Admin, 200, Nothing),
        r(
            "POST",
            "/v1/auth/keys/{spare}/rotate",
            Some(json!({"old_expires_in_s": 60})),
            Admin,
            201,
            Keys,
        ),
        r("DELETE", "/v1/auth/keys/{spare}", None, Admin, 200, Keys),
        r("GET", "/health", None, Anyone, 200, Nothing),
        r("GET", "/ready", None, Anyone, 200, Nothing),
    ]
}

/// The status `caller` must get on a route for `need`: `None` when allowed.
fn refusal(caller: Caller, need: Need) -> Option<u16> {
    use Caller::*;
    match (caller, need) {
        (_, Need::Anyone) => None,
        (NoKey | Unknown | Expired | Revoked, _) => Some(401),
        (Admin, _) => None,
        (ThisNamespace, Need::Client) | (Monitor, Need::Monitor) => None,
        _ => Some(403),
    }
}

struct Keys {
    admin: String,
    unknown: String,
    expired: String,
    revoked: String,
    other: String,
    this: String,
    monitor: String,
}

impl Keys {
    fn of(&self, caller: Caller) -> Option<&str> {
        Some(match caller {
            Caller::NoKey => return None,
            Caller::Unknown => &self.unknown,
            Caller::Expired => &self.expired,
            Caller::Revoked => &self.revoked,
            Caller::OtherNamespace => &self.other,
            Caller::ThisNamespace => &self.this,
            Caller::Monitor => &self.monitor,
            Caller::Admin => &self.admin,
        })
    }
}

fn id_of(key: &str) -> &str {
    key.split('_').nth(1).expect("key id")
}

fn request(
    c: &Cluster,
    node: usize,
    key: Option<&str>,
    method: &str,
    path: &str,
    body: &Option<Value>,
) -> support::Reply {
    let url = format!("{}{path}", c.url(node));
    let body = body.as_ref().map(Value::to_string);
    let ct = body.as_ref().map(|_| "application/json");
    send_as(method, &url, key, ct, body.as_deref())
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// What `probe` shows on every node, read with the admin key.
fn probe(c: &Cluster, admin: &str, probe: Probe) -> Vec<Value> {
    (0..3)
        .map(|node| {
            let get = |path: &str| request(c, node, Some(admin), "GET", path, &None);
            match probe {
                Probe::HeldRecord => record_facts(get("/v1/ns/ns1/keys/held").body),
                Probe::Policy => get("/v1/ns/ns1").body,
                Probe::Quota => {
                    let mut q = get("/v1/ns/ns1/quota").body;
                    // What it holds moves with the allowed calls; the quota
                    // itself must not move with a refused one.
                    q["usage"] = Value::Null;
                    q
                }
                Probe::Keys => get("/v1/auth/keys").body,
                Probe::Members => {
                    let members = get("/v1/cluster/members").body;
                    let mut view: Vec<Value> = members
                        .as_array()
                        .expect("members")
                        .iter()
                        .map(|m| json!([m["id"], m["voter"]]))
                        .collect();
                    view.sort_by_key(Value::to_string);
                    Value::Array(view)
                }
                Probe::Nothing => Value::Null,
            }
        })
        .collect()
}

fn create(c: &Cluster, body: Value) -> String {
    let r = request(
        c,
        0,
        Some(&c.admin_key),
        "POST",
        "/v1/auth/keys",
        &Some(body),
    );
    assert_eq!(r.status, 201, "{r:?}");
    r.body["key"].as_str().expect("key").to_string()
}

#[test]
fn every_route_answers_each_kind_of_caller_and_a_refusal_changes_nothing() {
    let c = Cluster::start();
    let admin = c.admin_key.clone();
    let expired = create(
        &c,
        json!({"name": "short", "role": "client", "namespaces": [NS], "expires_in_s": 1}),
    );
    let revoked = c.create_key("client", &[NS], None);
    let r = request(
        &c,
        1,
        Some(&admin),
        "DELETE",
        &format!("/v1/auth/keys/{}", id_of(&revoked)),
        &None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let keys = Keys {
        admin: admin.clone(),
        // Well formed, never created.
        unknown: "idem_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        expired,
        revoked,
        other: c.create_key("client", &["other"], None),
        this: c.create_key("client", &[NS], None),
        monitor: c.create_key("monitor", &[], None),
    };
    // The record refused requests aim at: held by an admin's reserve.
    let held = request(
        &c,
        0,
        Some(&admin),
        "POST",
        "/v1/ns/ns1/keys/held/reserve",
        &Some(json!({"fingerprint": "fp", "lease_ms": 600_000})),
    );
    assert_eq!(held.status, 201, "{held:?}");
    // Past the short key's expiry (cluster time).
    std::thread::sleep(Duration::from_millis(1_500));

    let mut node = 0;
    let mut fresh = 0;
    for route in routes() {
        for caller in CALLERS {
            node = (node + 1) % 3;
            let refused = refusal(caller, route.need);
            // A spare API key per request, for the routes that rotate,
            // revoke or show one.
            let spare = if route.path.contains("{spare}") {
                id_of(&c.create_key("client", &[NS], None)).to_string()
            } else {
                String::new()
            };
            fresh += 1;
            let key_name = match refused {
                Some(_) => "held".to_string(),
                None => format!("fresh-{fresh}"),
            };
            let path = route
                .path
                .replace("{key}", &key_name)
                .replace("{spare}", &spare);
            let before = refused.map(|_| probe(&c, &admin, route.probe));
            let reply = request(&c, node, keys.of(caller), route.method, &path, &route.body);
            let what = format!("{} {path} by {caller:?} on node {}", route.method, node + 1);
            match refused {
                Some(status) => {
                    assert_eq!(reply.status, status, "{what}: {}", reply.raw);
                    assert_eq!(reply.content_type, "application/problem+json", "{what}");
                    let kind = if status == 401 {
                        "unauthenticated"
                    } else {
                        "forbidden"
                    };
                    assert_eq!(
                        reply.body["type"],
                        format!("urn:idem:problem:{kind}"),
                        "{what}"
                    );
                    let after = probe(&c, &admin, route.probe);
                    assert_eq!(before.as_ref(), Some(&after), "{what} changed the state");
                }
                None => assert_eq!(reply.status, route.allowed, "{what}: {}", reply.raw),
            }
        }
    }
    // Why each 401 was refused is said.
    for (caller, reason) in [
        (Caller::NoKey, "missing"),
        (Caller::Unknown, "unknown"),
        (Caller::Expired, "expired"),
        (Caller::Revoked, "revoked"),
    ] {
        let r = request(&c, 2, keys.of(caller), "GET", "/v1/ns/ns1/keys/held", &None);
        assert_eq!(r.body["reason"], reason, "{caller:?}: {}", r.raw);
    }
}

#[test]
fn once_a_revocation_is_answered_no_node_accepts_the_key() {
    let c = Cluster::start();
    let admin = c.admin_key.clone();
    let client = c.create_key("client", &[NS], None);
    let monitor = c.create_key("monitor", &[], None);
    for node in 0..3 {
        let r = request(
            &c,
            node,
            Some(&client),
            "POST",
            &format!("/v1/ns/ns1/keys/before-{node}/reserve"),
            &Some(json!({})),
        );
        assert_eq!(r.status, 201, "{r:?}");
        let r = request(&c, node, Some(&monitor), "GET", "/metrics", &None);
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    for key in [&client, &monitor] {
        // Revoked through a follower or the leader, whichever node 2 is.
        let r = request(
            &c,
            1,
            Some(&admin),
            "DELETE",
            &format!("/v1/auth/keys/{}", id_of(key)),
            &None,
        );
        assert_eq!(r.status, 200, "{r:?}");
    }
    for node in 0..3 {
        for (path, method, body) in [
            (
                format!("/v1/ns/ns1/keys/after-{node}/reserve"),
                "POST",
                Some(json!({})),
            ),
            // A replay of a completed-or-held key is answered by a read.
            (
                format!("/v1/ns/ns1/keys/before-{node}/reserve"),
                "POST",
                Some(json!({})),
            ),
            (format!("/v1/ns/ns1/keys/before-{node}"), "GET", None),
        ] {
            let r = request(&c, node, Some(&client), method, &path, &body);
            assert_eq!(
                r.status,
                401,
                "{method} {path} on node {}: {}",
                node + 1,
                r.raw
            );
            assert_eq!(r.body["reason"], "revoked", "{}", r.raw);
        }
        let r = request(&c, node, Some(&monitor), "GET", "/metrics", &None);
        assert_eq!(r.status, 401, "metrics on node {}: {}", node + 1, r.raw);
        let r = request(
            &c,
            node,
            Some(&admin),
            "GET",
            &format!("/v1/ns/ns1/keys/after-{node}"),
            &None,
        );
        assert_eq!(
            r.status, 404,
            "the refused reserve wrote nothing: {}",
            r.raw
        );
    }
}

#[test]
fn a_rotated_key_works_beside_its_successor_until_its_grace_ends() {
    let c = Cluster::start();
    let admin = c.admin_key.clone();
    let old = c.create_key("client", &[NS], None);
    let r = request(
        &c,
        2,
        Some(&admin),
        "POST",
        &format!("/v1/auth/keys/{}/rotate", id_of(&old)),
        &Some(json!({"old_expires_in_s": 2})),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let new = r.body["key"].as_str().expect("new key").to_string();
    assert_eq!(r.body["namespaces"], json!([NS]));
    assert_eq!(r.body["replaces"]["id"], id_of(&old));
    for (n, key) in [&old, &new].into_iter().enumerate() {
        let r = request(
            &c,
            n,
            Some(key),
            "POST",
            &format!("/v1/ns/ns1/keys/rot-{n}/reserve"),
            &Some(json!({})),
        );
        assert_eq!(r.status, 201, "{r:?}");
    }
    std::thread::sleep(Duration::from_millis(2_500));
    let r = request(
        &c,
        0,
        Some(&old),
        "POST",
        "/v1/ns/ns1/keys/rot-late/reserve",
        &Some(json!({})),
    );
    assert_eq!(
        (r.status, r.body["reason"].clone()),
        (401, json!("expired")),
        "{}",
        r.raw
    );
    let r = request(
        &c,
        1,
        Some(&new),
        "POST",
        "/v1/ns/ns1/keys/rot-late/reserve",
        &Some(json!({})),
    );
    assert_eq!(r.status, 201, "{r:?}");
    // The admin list shows both, and never a secret.
    let list = request(&c, 2, Some(&admin), "GET", "/v1/auth/keys", &None);
    for key in [&new, &old] {
        let secret = key.splitn(3, '_').nth(2).expect("secret");
        assert!(!list.raw.contains(secret), "no secret listed");
    }
}
