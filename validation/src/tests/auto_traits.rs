//! The auto traits the primitives rely on: everything a primitive embeds or
//! a guard keeps moves between threads with its task.

use crate::*;

fn send_sync<T: Send + Sync>() {}

#[test]
fn embedded_state_and_tokens_are_send_and_sync() {
    send_sync::<LockMeta>();
    send_sync::<Held>();
    send_sync::<Waiting>();
    send_sync::<ChannelMeta>();
    send_sync::<SenderClaim>();
    send_sync::<WaitMeta>();
    send_sync::<TaskStateCell>();
    send_sync::<LockClass>();
    send_sync::<Violation>();
    send_sync::<ContractAtomicU64>();
    send_sync::<ContractAtomicBool>();
    send_sync::<PlacementError>();
}
