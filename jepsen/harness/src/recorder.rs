//! The history as it happens: every event gets the next index and the
//! harness's monotonic time under one lock, so index order is time order,
//! and is appended to `history.jsonl` at once (a crashed run keeps what it
//! saw).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use idem_jepsen_check::history::{to_line, Event, EventBody};

use crate::error::HarnessError;

pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

struct Inner {
    events: Vec<Event>,
    file: BufWriter<File>,
}

impl Recorder {
    pub fn create(path: &Path) -> Result<Self, HarnessError> {
        let file = File::create(path).map_err(|e| HarnessError::io(path.display(), e))?;
        Ok(Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                events: Vec::new(),
                file: BufWriter::new(file),
            }),
        })
    }

    /// Seconds since the run began, for messages.
    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn record(&self, body: EventBody) {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let event = Event {
            index: inner.events.len() as u64,
            time_ns: self.start.elapsed().as_nanos() as u64,
            body,
        };
        let line = to_line(&event);
        // A write error here loses the file copy only; the in-memory
        // history, which the checker reads, stays whole.
        let _ = writeln!(inner.file, "{line}");
        inner.events.push(event);
    }

    /// Flushes the file and hands over the history.
    pub fn finish(&self) -> Vec<Event> {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = inner.file.flush();
        inner.events.clone()
    }
}
