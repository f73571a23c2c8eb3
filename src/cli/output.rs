//! Standard output of the headless commands.
//!
//! Every command that prints writes through an [`Output`]: a buffered writer
//! on the locked stdout whose every call returns a `Result` instead of
//! panicking like `println!` does. A reader that went away (`| head -1`)
//! becomes [`OutputError::Closed`], which `cli::run` turns into a quiet exit
//! 0; any other failure (`> /dev/full`) becomes [`OutputError::Write`], an
//! internal error (exit 1) reported on stderr. After the first failure the
//! writer is spent: nothing more is written, not even what was buffered.

use std::fmt::Display;
use std::io::{self, BufWriter, StdoutLock, Write};

/// Why standard output took no more.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader closed the pipe: the command ends quietly with exit 0.
    #[error("standard output was closed")]
    Closed,
    /// Any other failed write (disk full, I/O error): exit 1.
    #[error("cannot write to standard output: {0}")]
    Write(#[source] io::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> OutputError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::Closed
        } else {
            OutputError::Write(e)
        }
    }
}

/// A buffered writer that never panics and stops at its first failure.
/// `Output::stdout()` writes to the process's stdout; `Output::new` to any
/// writer (tests).
pub struct Output<W: Write = StdoutLock<'static>> {
    /// `None` once a write or flush has failed.
    inner: Option<BufWriter<W>>,
    /// The kind of the first failure, repeated by every later call.
    failed: Option<io::ErrorKind>,
}

impl Output {
    /// Buffered, locked standard output. Holds the stdout lock until dropped
    /// (other threads printing to stdout wait).
    pub fn stdout() -> Output {
        Output::new(io::stdout().lock())
    }
}

impl<W: Write> Output<W> {
    /// Buffers writes to `w`.
    pub fn new(w: W) -> Output<W> {
        Output {
            inner: Some(BufWriter::new(w)),
            failed: None,
        }
    }

    /// Writes `s` and a newline.
    pub(crate) fn line(&mut self, s: impl Display) -> Result<(), OutputError> {
        self.attempt(|w| writeln!(w, "{s}"))
    }

    /// Writes `bytes` as they are.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        self.attempt(|w| w.write_all(bytes))
    }

    /// Pushes everything buffered to the underlying writer. Call it before
    /// anything else may print to stdout, and at the end of a command
    /// (`cli::run` does for the commands it gives an `Output`).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.attempt(|w| w.flush())
    }

    fn attempt(
        &mut self,
        op: impl FnOnce(&mut BufWriter<W>) -> io::Result<()>,
    ) -> Result<(), OutputError> {
        if let Some(kind) = self.failed {
            return Err(earlier_failure(kind));
        }
        let Some(w) = self.inner.as_mut() else {
            return Err(earlier_failure(io::ErrorKind::Other));
        };
        match op(w) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = Some(e.kind());
                // Drop the writer WITHOUT flushing what is still buffered:
                // BufWriter's own Drop would try again.
                if let Some(w) = self.inner.take() {
                    let _ = w.into_parts();
                }
                Err(OutputError::from(e))
            }
        }
    }
}

/// The error repeated after a first failure (an `io::Error` cannot be cloned).
fn earlier_failure(kind: io::ErrorKind) -> OutputError {
    OutputError::from(io::Error::new(
        kind,
        "an earlier write to standard output failed",
    ))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// Takes `room` bytes, then fails every call with `kind`; counts calls.
    struct Failing {
        room: usize,
        kind: io::ErrorKind,
        calls: Rc<Cell<usize>>,
        taken: Vec<u8>,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls.set(self.calls.get() + 1);
            if self.room == 0 {
                return Err(io::Error::from(self.kind));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn failing(room: usize, kind: io::ErrorKind) -> (Output<Failing>, Rc<Cell<usize>>) {
        let calls = Rc::new(Cell::new(0));
        let w = Failing {
            room,
            kind,
            calls: calls.clone(),
            taken: Vec::new(),
        };
        (Output::new(w), calls)
    }

    #[test]
    fn writes_are_buffered_until_flush() {
        let mut buf = Vec::new();
        {
            let mut out = Output::new(&mut buf);
            out.line("one").unwrap();
            out.line(format_args!("{}", 2)).unwrap();
            out.write_all(b"[]").unwrap();
            out.flush().unwrap();
        }
        assert_eq!(buf, b"one\n2\n[]");
    }

    #[test]
    fn broken_pipe_is_closed_and_nothing_more_is_written() {
        let (mut out, calls) = failing(0, io::ErrorKind::BrokenPipe);
        out.line("a").unwrap(); // buffered
        assert!(matches!(out.flush(), Err(OutputError::Closed)));
        let after_failure = calls.get();
        assert!(out.failed.is_some());
        assert!(matches!(out.line("b"), Err(OutputError::Closed)));
        assert!(matches!(
            out.write_all(&[b'x'; 20_000]),
            Err(OutputError::Closed)
        ));
        assert!(matches!(out.flush(), Err(OutputError::Closed)));
        drop(out);
        assert_eq!(
            calls.get(),
            after_failure,
            "no write after the first failure"
        );
    }

    #[test]
    fn other_errors_are_write_errors_and_stop_output() {
        let (mut out, calls) = failing(10, io::ErrorKind::StorageFull);
        // Larger than the buffer: the failure comes from a write, not a flush.
        let big = vec![b'x'; 64 * 1024];
        match out.write_all(&big) {
            Err(OutputError::Write(e)) => assert_eq!(e.kind(), io::ErrorKind::StorageFull),
            other => panic!("expected a write error, got {other:?}"),
        }
        let after_failure = calls.get();
        assert!(matches!(out.line("more"), Err(OutputError::Write(_))));
        drop(out);
        assert_eq!(calls.get(), after_failure);
        let msg = OutputError::Write(io::Error::from(io::ErrorKind::StorageFull)).to_string();
        assert!(
            msg.starts_with("cannot write to standard output: "),
            "{msg}"
        );
    }
}
