//! One event as one readable line, for the summary.

use crate::history::{Event, EventBody, NemesisPhase, Outcome, Request, StoredResponse};

/// `#12 1.234s p3 n2 invoke reserve "k1" fp="a" lease=2000ms retain=5000ms`
pub fn describe_event(event: &Event) -> String {
    let head = format!("#{} {:.3}s", event.index, event.time_ns as f64 / 1e9);
    match &event.body {
        EventBody::Invoke {
            process,
            node,
            key,
            request,
        } => format!(
            "{head} p{process} n{node} invoke {}",
            request_text(key, request)
        ),
        EventBody::Ok { process, outcome } => {
            format!("{head} p{process} ok {}", outcome_text(outcome))
        }
        EventBody::Fail { process, error } => format!("{head} p{process} fail: {error}"),
        EventBody::Info { process, error } => format!("{head} p{process} info: {error}"),
        EventBody::Nemesis {
            phase,
            name,
            detail,
        } => {
            let phase = match phase {
                NemesisPhase::Start => "start",
                NemesisPhase::Stop => "stop",
            };
            format!("{head} nemesis {phase} {name} {detail}")
                .trim_end()
                .to_string()
        }
    }
}

fn request_text(key: &str, request: &Request) -> String {
    let what = match request {
        Request::Reserve {
            fingerprint,
            lease_ms,
            retain_ms,
            attempt,
            wait_ms,
        } => format!(
            "fp={fingerprint:?} lease={lease_ms}ms retain={retain_ms}ms{}{}",
            attempt
                .as_ref()
                .map_or(String::new(), |a| format!(" attempt={a}")),
            if *wait_ms > 0 {
                format!(" wait={wait_ms}ms")
            } else {
                String::new()
            }
        ),
        Request::Heartbeat {
            token,
            lease_ms,
            committing,
        } => format!(
            "token={token} lease={lease_ms}ms{}",
            if *committing { " committing" } else { "" }
        ),
        Request::Complete { token, response } => {
            format!("token={token} response={}", response_text(response))
        }
        Request::Release {
            token,
            not_committed,
        } => format!(
            "token={token}{}",
            if *not_committed { " not_committed" } else { "" }
        ),
        Request::Get => String::new(),
    };
    format!("{} {key:?} {what}", request.f())
        .trim_end()
        .to_string()
}

/// An outcome with its fields, e.g. `reserved token=17 takeover`.
pub(crate) fn outcome_text(outcome: &Outcome) -> String {
    let kind = outcome.kind();
    match outcome {
        Outcome::Reserved {
            token,
            takeover,
            resumed,
            previous_committing,
        } => {
            format!(
                "{kind} token={token}{}{}{}",
                if *takeover { " takeover" } else { "" },
                if *resumed { " resumed" } else { "" },
                if previous_committing.is_empty() {
                    String::new()
                } else {
                    format!(" previous_committing={previous_committing:?}")
                }
            )
        }
        Outcome::Replayed { token, response } => {
            format!("{kind} token={token} response={}", response_text(response))
        }
        Outcome::Extended { token }
        | Outcome::ConflictingCompletion { token }
        | Outcome::Released { token }
        | Outcome::ReleaseRefused { token } => format!("{kind} token={token}"),
        Outcome::Completed { token, replayed } => {
            format!(
                "{kind} token={token}{}",
                if *replayed { " replayed" } else { "" }
            )
        }
        Outcome::KeyLost { reason } => format!("{kind} ({reason})"),
        Outcome::RecordInProgress { token, fingerprint }
        | Outcome::RecordReleased { token, fingerprint } => {
            format!("{kind} token={token} fp={fingerprint:?}")
        }
        Outcome::RecordCompleted {
            token,
            fingerprint,
            response,
        } => format!(
            "{kind} token={token} fp={fingerprint:?} response={}",
            response_text(response)
        ),
        Outcome::InProgress | Outcome::FingerprintMismatch | Outcome::NotFound => kind.into(),
    }
}

fn response_text(r: &StoredResponse) -> String {
    const MAX: usize = 40;
    let body: String = if r.body.chars().count() > MAX {
        r.body.chars().take(MAX).chain("...".chars()).collect()
    } else {
        r.body.clone()
    };
    format!("{}:{body:?}", r.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn lines_name_the_event_and_its_fields() {
        let mut h = EventsBuilder::default();
        h.at_ms(1_500)
            .call(3, "k1", reserve_for("a", 2_000, 5_000), took_over(17));
        h.push(info(4));
        assert_eq!(
            describe_event(&h.events[0]),
            r#"#0 1.500s p3 n1 invoke reserve "k1" fp="a" lease=2000ms retain=5000ms"#
        );
        assert_eq!(
            describe_event(&h.events[1]),
            "#1 1.501s p3 ok reserved token=17 takeover"
        );
        assert_eq!(describe_event(&h.events[2]), "#2 1.502s p4 info: timeout");
        let long = replayed(1, &"x".repeat(100));
        assert!(outcome_text(&long).ends_with(r#"xxx...""#));
    }
}
