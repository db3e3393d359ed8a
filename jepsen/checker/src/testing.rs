//! Helpers for the unit tests: write small histories by hand.

use crate::history::{Event, EventBody, NemesisPhase, Outcome, Request, StoredResponse};

/// Appends events with consecutive indices; time advances 1 ms per event
/// unless set with [`EventsBuilder::at_ms`].
#[derive(Debug, Default)]
pub struct EventsBuilder {
    pub events: Vec<Event>,
    now_ns: u64,
}

impl EventsBuilder {
    /// Pushes an event and returns its index.
    pub fn push(&mut self, body: EventBody) -> u64 {
        let index = self.events.len() as u64;
        self.events.push(Event {
            index,
            time_ns: self.now_ns,
            body,
        });
        self.now_ns += 1_000_000;
        index
    }

    /// The next event happens at `ms` milliseconds.
    pub fn at_ms(&mut self, ms: u64) -> &mut Self {
        self.now_ns = ms * 1_000_000;
        self
    }

    /// An operation with nothing concurrent: invocation then `ok`.
    /// Returns the invocation's index.
    pub fn call(&mut self, process: u64, key: &str, request: Request, outcome: Outcome) -> u64 {
        let i = self.push(invoke(process, key, request));
        self.push(ok(process, outcome));
        i
    }
}

pub fn invoke(process: u64, key: &str, request: Request) -> EventBody {
    EventBody::Invoke {
        process,
        node: 1,
        key: key.into(),
        request,
    }
}

pub fn ok(process: u64, outcome: Outcome) -> EventBody {
    EventBody::Ok { process, outcome }
}

pub fn info(process: u64) -> EventBody {
    EventBody::Info {
        process,
        error: "timeout".into(),
    }
}

pub fn fail(process: u64) -> EventBody {
    EventBody::Fail {
        process,
        error: "connection refused".into(),
    }
}

pub fn nemesis(phase: NemesisPhase, name: &str) -> EventBody {
    EventBody::Nemesis {
        phase,
        name: name.into(),
        detail: String::new(),
    }
}

pub fn reserve(fp: &str) -> Request {
    Request::Reserve {
        fingerprint: fp.into(),
        lease_ms: 1_000,
        retain_ms: 10_000,
        attempt: None,
        wait_ms: 0,
    }
}

pub fn reserve_with_attempt(fp: &str, attempt: &str) -> Request {
    Request::Reserve {
        fingerprint: fp.into(),
        lease_ms: 1_000,
        retain_ms: 10_000,
        attempt: Some(attempt.into()),
        wait_ms: 0,
    }
}

pub fn reserve_for(fp: &str, lease_ms: u64, retain_ms: u64) -> Request {
    Request::Reserve {
        fingerprint: fp.into(),
        lease_ms,
        retain_ms,
        attempt: None,
        wait_ms: 0,
    }
}

pub fn heartbeat(token: u64) -> Request {
    Request::Heartbeat {
        token,
        lease_ms: 1_000,
        committing: false,
    }
}

pub fn complete(token: u64, body: &str) -> Request {
    Request::Complete {
        token,
        response: resp(body),
    }
}

pub fn release(token: u64) -> Request {
    Request::Release {
        token,
        not_committed: false,
    }
}

pub fn resp(body: &str) -> StoredResponse {
    StoredResponse {
        status: 200,
        body: body.into(),
    }
}

pub fn granted(token: u64) -> Outcome {
    Outcome::Reserved {
        token,
        takeover: false,
        resumed: false,
        previous_committing: Vec::new(),
    }
}

pub fn took_over(token: u64) -> Outcome {
    Outcome::Reserved {
        token,
        takeover: true,
        resumed: false,
        previous_committing: Vec::new(),
    }
}

pub fn replayed(token: u64, body: &str) -> Outcome {
    Outcome::Replayed {
        token,
        response: resp(body),
    }
}

pub fn completed(token: u64) -> Outcome {
    Outcome::Completed {
        token,
        replayed: false,
    }
}

pub fn key_lost() -> Outcome {
    Outcome::KeyLost {
        reason: "superseded".into(),
    }
}

pub fn record_completed(token: u64, fp: &str, body: &str) -> Outcome {
    Outcome::RecordCompleted {
        token,
        fingerprint: fp.into(),
        response: resp(body),
    }
}

pub fn record_in_progress(token: u64, fp: &str) -> Outcome {
    Outcome::RecordInProgress {
        token,
        fingerprint: fp.into(),
    }
}
