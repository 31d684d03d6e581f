//! `futures_io::{AsyncRead, AsyncWrite}` for [`File`] (the `futures-io`
//! feature), forwarding to its tokio traits: the same buffering, the same
//! cancellation semantics.

use super::File;
use crate::net::tcp::futures_io::{futures_read, futures_write, poll_read_via_tokio};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

futures_read!(File);
futures_write!(File);
