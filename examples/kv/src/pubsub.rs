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

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<Vec<u8>, broadcast::Sender<Message>>>,
}

impl Hub {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, broadcast::Sender<Message>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `msg` to the channel's subscribers; returns how many there are.
    pub fn publish(&self, channel: &[u8], msg: Vec<u8>) -> i64 {
        let channels = self.channels();
        match channels.get(channel) {
            Some(tx) => tx
                .send(Arc::new((channel.to_vec(), msg)))
                .map_or(0, |n| n as i64),
            None => 0,
        }
    }

    pub fn subscribe(&self, channel: &[u8]) -> broadcast::Receiver<Message> {
        self.channels()
            .entry(channel.to_vec())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Drops a subscription and forgets the channel once nobody listens.
    pub fn unsubscribe(&self, channel: &[u8], rx: broadcast::Receiver<Message>) {
        let mut channels = self.channels();
        drop(rx);
        if channels
            .get(channel)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            channels.remove(channel);
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
