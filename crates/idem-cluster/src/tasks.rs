//! The node's background tasks, owned in one place: whoever starts a node
//! spawns its tasks here, and [`NodeTasks::shutdown`] stops and joins every
//! one of them. Each task gets only the handles it needs, never the node.

use std::future::Future;
use std::sync::Mutex;

use tokio::task::JoinSet;

#[derive(Default)]
pub(crate) struct NodeTasks {
    /// `None` once shut down: nothing more is spawned.
    set: Mutex<Option<JoinSet<()>>>,
}

impl NodeTasks {
    pub(crate) fn new() -> NodeTasks {
        NodeTasks {
            set: Mutex::new(Some(JoinSet::new())),
        }
    }

    /// Runs `task` until it ends or the node shuts down. After shutdown it
    /// is not started.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = set.as_mut() {
            // Reap the tasks that ended by themselves, so that the set stays small.
            while set.try_join_next().is_some() {}
            set.spawn(task);
        }
    }

    /// Stops every task (at its next await point) and waits until all have
    /// ended.
    pub(crate) async fn shutdown(&self) {
        let set = self.set.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut set) = set {
            set.abort_all();
            while set.join_next().await.is_some() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn shutdown_stops_and_joins_every_task_and_spawns_no_more() {
        let tasks = NodeTasks::new();
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(dropped.clone());
        tasks.spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        tasks.spawn(async {});
        tasks.shutdown().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the endless task was stopped and joined"
        );
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        tasks.spawn(async move { r.store(true, Ordering::SeqCst) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!ran.load(Ordering::SeqCst), "nothing runs after shutdown");
    }
}
