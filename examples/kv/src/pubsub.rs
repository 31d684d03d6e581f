//! `PUBLISH`/`SUBSCRIBE`: one `broadcast` channel per pub/sub channel name.
//!
//! A subscriber that falls more than [`CHANNEL_CAPACITY`] messages behind
//! loses its place (`RecvError::Lagged`) and is disconnected with an error,
//! as Redis disconnects a subscriber over its output buffer limit: a slow
//! reader never makes the publisher wait or the server buffer without
//! bound.

use crate::rt::sync::broadcast;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Messages a subscriber may fall behind before it is disconnected.
pub const CHANNEL_CAPACITY: usize = 4096;

/// A published message: (channel, payload).
pub type Message = Arc<(Vec<u8>, Vec<u8>)>;

/// A channel's sender and how many connections subscribe to it. The count
/// is kept here, not read from the sender: a subscription ends the moment
/// its connection says `UNSUBSCRIBE`, while its receiver lives on in a
/// forwarder task until that task is dropped.
struct Channel {
    tx: broadcast::Sender<Message>,
    subscribers: usize,
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<Vec<u8>, Channel>>,
}

impl Hub {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Channel>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `msg` to the channel's subscribers; returns how many there are.
    pub fn publish(&self, channel: &[u8], msg: Vec<u8>) -> i64 {
        let channels = self.channels();
        match channels.get(channel) {
            Some(c) => {
                let _ = c.tx.send(Arc::new((channel.to_vec(), msg)));
                c.subscribers as i64
            }
            None => 0,
        }
    }

    /// A new subscription to `channel`.
    pub fn subscribe(&self, channel: &[u8]) -> broadcast::Receiver<Message> {
        let mut channels = self.channels();
        let c = channels.entry(channel.to_vec()).or_insert_with(|| Channel {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            subscribers: 0,
        });
        c.subscribers += 1;
        c.tx.subscribe()
    }

    /// Ends one subscription to `channel`; forgets the channel once nobody
    /// subscribes (its sender drops, so stale receivers see it closed).
    pub fn unsubscribe(&self, channel: &[u8]) {
        let mut channels = self.channels();
        if let Some(c) = channels.get_mut(channel) {
            c.subscribers -= 1;
            if c.subscribers == 0 {
                channels.remove(channel);
            }
        }
    }

    /// Channels with at least one subscriber.
    pub fn len(&self) -> usize {
        self.channels().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
