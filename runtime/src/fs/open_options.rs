//! [`OpenOptions`]: how to open a file, as `tokio::fs::OpenOptions`.

use super::error::with_path;
use super::{asyncify, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Options for opening a file (as `tokio::fs::OpenOptions`, a wrapper of
/// [`std::fs::OpenOptions`] whose `open` runs on the blocking pool).
///
/// ```
/// use perf_runtime::fs::OpenOptions;
/// use perf_runtime::io::AsyncWriteExt;
///
/// # perf_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// # let path = std::env::temp_dir().join(format!("perf_runtime_open_options_doc_{}", std::process::id()));
/// let mut log = OpenOptions::new().append(true).create(true).open(&path).await?;
/// log.write_all(b"started\n").await?;
/// log.flush().await?;
/// # perf_runtime::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    /// What was asked for, for error messages (std does not expose it);
    /// `None` for options converted from std.
    access: Option<Access>,
    /// The same options as `open(2)` flags, for io_uring's OPENAT (`None`
    /// when made from a std `OpenOptions`, whose settings cannot be read).
    flags: Option<super::uring::OpenFlags>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Access {
    read: bool,
    write: bool,
    append: bool,
}

impl OpenOptions {
    /// Options with everything off: set at least `read`, `write` or
    /// `append`.
    #[must_use]
    pub fn new() -> OpenOptions {
        OpenOptions {
            std: std::fs::OpenOptions::new(),
            access: Some(Access::default()),
            flags: Some(super::uring::OpenFlags::default()),
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.std.read(read);
        if let Some(f) = &mut self.flags {
            f.read = read;
        }
        if let Some(a) = &mut self.access {
            a.read = read;
        }
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.std.write(write);
        if let Some(f) = &mut self.flags {
            f.write = write;
        }
        if let Some(a) = &mut self.access {
            a.write = write;
        }
        self
    }

    /// Open for appending: every write goes to the end.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.std.append(append);
        if let Some(f) = &mut self.flags {
            f.append = append;
        }
        if let Some(a) = &mut self.access {
            a.append = append;
        }
        self
    }

    /// Truncate to 0 bytes when opened (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.std.truncate(truncate);
        if let Some(f) = &mut self.flags {
            f.truncate = truncate;
        }
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.std.create(create);
        if let Some(f) = &mut self.flags {
            f.create = create;
        }
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (atomic:
    /// no other process can create it in between).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.std.create_new(create_new);
        if let Some(f) = &mut self.flags {
            f.create_new = create_new;
        }
        self
    }

    /// The permission bits a created file gets (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.std.mode(mode);
        if let Some(f) = &mut self.flags {
            f.mode = mode;
        }
        self
    }

    /// Extra `open(2)` flags (`libc::O_NOFOLLOW`, `O_DIRECT`, ...).
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.std.custom_flags(flags);
        if let Some(f) = &mut self.flags {
            f.custom = flags;
        }
        self
    }

    /// Opens `path` with these options: an io_uring OPENAT where the
    /// runtime runs io_uring (a dropped open is cancelled, and a file the
    /// kernel opened anyway is closed), the blocking pool otherwise.
    ///
    /// # Errors
    /// The kind `std` gives (`NotFound`, `PermissionDenied`,
    /// `AlreadyExists`, `InvalidInput` for a contradictory set of options),
    /// with the path and the access asked for in the message.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref().to_owned();
        let opts = self.std.clone();
        let op = match self.access.map(|a| (a.read, a.write || a.append)) {
            None => "open",
            Some((true, true)) => "open for reading and writing",
            Some((false, true)) => "open for writing",
            Some((true, false)) => "open for reading",
            Some((false, false)) => "open (with none of read, write or append set)",
        };
        if let Some(flags) = self.flags {
            // io_uring's OPENAT where the runtime runs io_uring.
            if let Ok(res) = super::uring::open(&path, flags).await {
                return res.map(File::from_std).map_err(|e| with_path(e, op, &path));
            }
        }
        let std = asyncify(move || opts.open(&path).map_err(|e| with_path(e, op, &path))).await?;
        Ok(File::from_std(std))
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions {
            std: options,
            access: None,
            flags: None,
        }
    }
}
