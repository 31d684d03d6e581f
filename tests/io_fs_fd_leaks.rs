//! Descriptor accounting for cancelled file operations: alone in its own
//! test binary (one process, one test), because `/proc/self/fd` counts every
//! thread's descriptors and parallel tests would disturb the count.

mod io_support;
mod support;

use io_support::{multi, open_fds};
use perf_runtime::fs::{self, File};
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Polls `fut` once and drops it.
async fn poll_once<F: Future>(fut: F) {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let _ = fut.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await
}

#[test]
fn no_descriptor_leaks_after_cancelled_opens_reads_and_writes() {
    let dir = std::env::temp_dir().join(format!("perf_runtime_fs_fd_leaks_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f");
    std::fs::write(&path, vec![7u8; 64 * 1024]).unwrap();
    let p = path.clone();
    support::within(move || {
        let before = open_fds();
        let rt = multi(2);
        rt.block_on(async {
            for _ in 0..50 {
                // An open abandoned after one poll: the file it opens on
                // the blocking pool is closed when that job finishes.
                poll_once(File::open(&p)).await;
                poll_once(fs::read_dir(p.parent().unwrap())).await;
                // A read abandoned mid-flight, then the file dropped.
                let mut f = File::open(&p).await.unwrap();
                let mut buf = [0u8; 4096];
                poll_once(f.read(&mut buf)).await;
                drop(f);
                // A positional read abandoned, then the file dropped.
                let f = File::open(&p).await.unwrap();
                poll_once(f.read_at(vec![0; 4096], 0)).await;
                drop(f);
                // A write still in flight when the file is dropped.
                let mut f = fs::OpenOptions::new().write(true).open(&p).await.unwrap();
                f.write_all(&[1u8; 1024]).await.unwrap();
                drop(f);
            }
        });
        // Dropping the runtime waits for its blocking threads, so every
        // abandoned job has finished and dropped what it produced.
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
