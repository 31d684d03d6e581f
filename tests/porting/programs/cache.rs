// A cache with refresh: lazily loaded once (OnceCell), refreshed by a
// background task when asked (Notify), readers never block on the refresh
// for long (RwLock), a request-scoped task-local names the caller.

use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{oneshot, Notify, OnceCell, RwLock};

tokio::task_local! {
    static CALLER: &'static str;
}

struct Cache {
    generation: RwLock<u32>,
    entries: RwLock<BTreeMap<String, String>>,
    refresh: Notify,
}

static SETTINGS: OnceCell<String> = OnceCell::const_new();

async fn settings() -> &'static str {
    SETTINGS
        .get_or_init(|| async { "ttl=30s".to_string() })
        .await
        .as_str()
}

async fn lookup(cache: &Cache, key: &str) -> String {
    let entries = cache.entries.read().await;
    let generation = *cache.generation.read().await;
    format!(
        "{} read {key}={} (gen {generation}, {})",
        CALLER.get(),
        entries.get(key).cloned().unwrap_or_default(),
        settings().await
    )
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let mut out = Vec::new();
    let cache = Arc::new(Cache {
        generation: RwLock::new(1),
        entries: RwLock::new(BTreeMap::from([("a".to_string(), "1".to_string())])),
        refresh: Notify::new(),
    });
    let (refreshed_tx, refreshed_rx) = oneshot::channel();
    let refresher = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache.refresh.notified().await;
            let mut entries = cache.entries.write().await;
            entries.insert("a".into(), "2".into());
            *cache.generation.write().await += 1;
            refreshed_tx.send(()).unwrap();
        })
    };
    out.push(CALLER.scope("alice", lookup(&cache, "a")).await);
    cache.refresh.notify_one();
    refreshed_rx.await.unwrap();
    out.push(CALLER.scope("bob", lookup(&cache, "a")).await);
    refresher.await.unwrap();
    out.push(format!(
        "outside a scope: {}",
        CALLER.try_with(|c| *c).is_err()
    ));
    out
}
