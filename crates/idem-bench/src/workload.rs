//! One operation of each workload, on any target.

use crate::args::WorkloadKind;
use crate::stats::{OpResult, Outcome};
use crate::targets::{Reservation, TargetClient};

/// Runs one operation on `key` and says how it ended. reserve-complete is
/// two requests; its outcome is that of the complete, or of the reserve when
/// the key was not granted.
pub async fn perform(client: &mut TargetClient, workload: WorkloadKind, key: &str) -> OpResult {
    match workload {
        WorkloadKind::Reserve => match client.reserve(key).await {
            Reservation::Granted { reply, .. } => OpResult::new(Outcome::Ok, reply),
            Reservation::Refused(result) => result,
        },
        WorkloadKind::ReserveComplete => match client.reserve(key).await {
            Reservation::Granted { token, .. } => client.complete(key, token).await,
            Reservation::Refused(result) => result,
        },
        WorkloadKind::Replay => client.replay(key).await,
    }
}
