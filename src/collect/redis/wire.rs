//! The socket redis-rs runs over, held to the target's limits before redis-rs parses
//! anything: [`Guarded`] counts every byte against `limits.reply_bytes` and follows the
//! RESP2 framing of what arrives ([`Gate`]: type bytes, lengths, nesting), so an array
//! header that announces more than two elements per allowed setting (`CONFIG GET *`
//! answers name/value pairs) or nesting deeper than [`MAX_DEPTH`] fails the read at
//! once. What redis-rs buffers and builds is then bounded by the limits, whatever the
//! server sends: a `*1000000` header costs nothing, a 50 MB reply is cut at
//! `reply_bytes`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::collect::{Limit, Limits};

/// Arrays inside arrays: `ROLE` nests two deep; redis-rs itself stops at 100.
pub const MAX_DEPTH: usize = 8;

/// What the connection runs over: a TCP or Unix socket.
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Socket for T {}

/// The limits of one collection and which one the server broke, shared by the socket
/// (which checks) and the session (which tells a broken bound from a network error).
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    read: u64,
    gate: Gate,
    broken: Option<Limit>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        let state = BudgetState { read: 0, gate: Gate::default(), broken: None };
        Budget { limits, state: Mutex::new(state) }
    }

    /// The limit the server broke, if any.
    pub fn broken(&self) -> Option<Limit> {
        self.lock().broken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes in bytes the server sent; the limit they break, if any (sticky).
    fn take(&self, bytes: &[u8]) -> Option<Limit> {
        let mut state = self.lock();
        if state.broken.is_none() {
            state.read += bytes.len() as u64;
            state.broken = if state.read > self.limits.reply_bytes {
                Some(Limit::ReplyBytes)
            } else {
                let max_elements = self.limits.settings.saturating_mul(2);
                state.gate.feed(bytes, max_elements).err()
            };
        }
        state.broken
    }
}

/// A socket whose reads fail once the server breaks a limit (see the module doc).
pub struct Guarded<S> {
    pub inner: S,
    pub budget: Arc<Budget>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let over = |limit: Limit| {
            std::io::Error::other(format!("the server sent more than limits.{}", limit.key()))
        };
        if let Some(limit) = self.budget.broken() {
            return Poll::Ready(Err(over(limit)));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled
            && let Some(limit) = self.budget.take(&buf.filled()[before..])
        {
            return Poll::Ready(Err(over(limit)));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Follows RESP2 framing byte by byte, keeping only counters: where the current
/// element is, and how many elements each open array still expects.
#[derive(Debug, Default)]
pub struct Gate {
    step: Step,
    /// Elements still expected by each open array, outermost first.
    open: Vec<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The next byte is a type byte.
    #[default]
    Type,
    /// Inside a `+`, `-` or `:` line, up to its `\n`.
    Line,
    /// Inside the length of a `$` (bulk) or `*` (array) header.
    Length { array: bool, negative: bool, n: u64 },
    /// Inside a bulk string's bytes and its `\r\n`.
    Skip(u64),
    /// Not RESP2 (RESP3 types, garbage): redis-rs deals with it; only bytes count.
    Off,
}

impl Gate {
    /// Takes in `bytes`; the limit an array header breaks (more than `max_elements`
    /// elements, or nesting past [`MAX_DEPTH`]), if any.
    pub fn feed(&mut self, mut bytes: &[u8], max_elements: usize) -> Result<(), Limit> {
        while let Some((&b, rest)) = bytes.split_first() {
            match self.step {
                Step::Off => return Ok(()),
                Step::Skip(left) => {
                    let n = left.min(bytes.len() as u64);
                    bytes = &bytes[n as usize..];
                    self.step = Step::Skip(left - n);
                    if left == n {
                        self.element_done();
                    }
                    continue;
                }
                Step::Type => {
                    self.step = match b {
                        b'+' | b'-' | b':' => Step::Line,
                        b'$' => Step::Length { array: false, negative: false, n: 0 },
                        b'*' => Step::Length { array: true, negative: false, n: 0 },
                        _ => Step::Off,
                    };
                }
                Step::Line => {
                    if b == b'\n' {
                        self.element_done();
                    }
                }
                Step::Length { array, negative, n } => match b {
                    b'0'..=b'9' => {
                        let n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                        self.step = Step::Length { array, negative, n };
                    }
                    b'-' => self.step = Step::Length { array, negative: true, n },
                    b'\r' => {}
                    b'\n' if negative => self.element_done(),
                    b'\n' if array => self.open_array(n, max_elements)?,
                    // The bytes and their `\r\n`.
                    b'\n' => self.step = Step::Skip(n.saturating_add(2)),
                    _ => self.step = Step::Off,
                },
            }
            bytes = rest;
        }
        Ok(())
    }

    fn open_array(&mut self, n: u64, max_elements: usize) -> Result<(), Limit> {
        if n > max_elements as u64 {
            return Err(Limit::Settings);
        }
        if n == 0 {
            self.element_done();
            return Ok(());
        }
        if self.open.len() == MAX_DEPTH {
            return Err(Limit::Depth);
        }
        self.open.push(n);
        self.step = Step::Type;
        Ok(())
    }

    /// One element ended: count it in its array, and close arrays that are complete.
    fn element_done(&mut self) {
        self.step = Step::Type;
        while let Some(left) = self.open.last_mut() {
            *left -= 1;
            if *left > 0 {
                return;
            }
            self.open.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(replies: &[&[u8]], max: usize, expect: Result<(), Limit>) {
        // Fed whole and a byte at a time: framing must not depend on how reads split.
        let mut gate = Gate::default();
        let whole: Result<(), Limit> = replies.iter().try_for_each(|r| gate.feed(r, max));
        assert_eq!(whole, expect);
        let mut gate = Gate::default();
        let split: Result<(), Limit> =
            replies.iter().flat_map(|r| r.iter()).try_for_each(|b| gate.feed(&[*b], max));
        assert_eq!(split, expect);
    }

    #[test]
    fn real_replies_pass() {
        let config = b"*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$4\r\nsave\r\n$0\r\n\r\n";
        let role = b"*3\r\n$6\r\nmaster\r\n:140\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$3\r\n140\r\n";
        let info = b"$23\r\n# Server\r\nrole:master\r\n\r\n";
        check(
            &[b"+PONG\r\n", info, role, config, b"-ERR no\r\n", b"$-1\r\n", b"*-1\r\n"],
            4,
            Ok(()),
        );
    }

    #[test]
    fn an_array_too_long_or_too_deep_is_refused_at_its_header() {
        check(&[b"*4\r\n$1\r\na\r\n$1\r\nb\r\n", b"*1000000\r\n"], 4, Err(Limit::Settings));
        check(&[b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n"], 4, Err(Limit::Depth));
        // Bulk bytes that look like a header are data, not framing.
        check(&[b"$10\r\n*999999\r\n\r\n"], 4, Ok(()));
    }

    #[test]
    fn bytes_are_counted_against_reply_bytes() {
        let limits = Limits { reply_bytes: 10, ..Limits::default() };
        let budget = Budget::new(limits);
        assert_eq!(budget.take(b"+PONG\r\n"), None);
        assert_eq!(budget.take(b"+PONG\r\n"), Some(Limit::ReplyBytes));
        assert_eq!(budget.broken(), Some(Limit::ReplyBytes));
    }
}
