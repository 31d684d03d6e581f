//! Model of a channel's sender claims: claims move and senders drop on
//! different threads, and the counts stay exact.

use crate::channel::{ChannelKind, ChannelMeta};
use crate::context::ContextId;
use crate::site::Site;
use loom::thread;

#[test]
fn loom_claims_and_drops_keep_exact_counts() {
    loom::model(|| {
        let chan = ChannelMeta::new(ChannelKind::Mpsc, Some(1));
        let a = chan.new_sender();
        let b = a.clone();
        let inner = a.chan_for_tests().unwrap();
        let inner2 = inner.clone();
        let t = thread::spawn(move || {
            a.reclaim(&inner2, ContextId::thread(1), Site::new("a.rs", 1, 1));
            a.reclaim(&inner2, ContextId::thread(2), Site::new("a.rs", 2, 1));
            drop(a);
        });
        b.reclaim(&inner, ContextId::thread(3), Site::new("b.rs", 3, 1));
        let (live, unknown) = inner.senders();
        assert!(live >= 1 && unknown <= 1);
        t.join().unwrap();
        assert_eq!(inner.senders(), (1, 0));
        assert_eq!(
            inner.claims_snapshot(),
            (vec![(ContextId::thread(3), Site::new("b.rs", 3, 1))], true)
        );
        drop(b);
        assert_eq!(inner.senders(), (0, 0));
    });
}
