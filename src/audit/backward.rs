//! Reads a file's lines from the last to the first, one block at a time, so
//! the newest records of a huge log cost only the bytes they occupy.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes read per step backwards.
pub(crate) const BLOCK_BYTES: u64 = 64 * 1024;

/// Iterates lines (without their `\n`) from the end of a file.
pub(crate) struct BackwardLines {
    file: File,
    /// Start of the bytes already read into `buf`.
    pos: u64,
    /// Bytes from `pos` up to the end of what is still to be yielded.
    buf: Vec<u8>,
    done: bool,
}

impl BackwardLines {
    /// Starts at the end; a final `\n` ends the last line rather than
    /// starting an empty one.
    pub(crate) fn new(mut file: File) -> io::Result<BackwardLines> {
        let len = file.seek(SeekFrom::End(0))?;
        let mut end = len;
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] == b'\n' {
                end = len - 1;
            }
        }
        Ok(BackwardLines {
            file,
            pos: end,
            buf: Vec::new(),
            done: len == 0,
        })
    }

    /// The previous line, or `None` once the start of the file is passed.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        loop {
            if let Some(i) = self.buf.iter().rposition(|&b| b == b'\n') {
                let line = self.buf.split_off(i + 1);
                self.buf.truncate(i);
                return Ok(Some(line));
            }
            if self.pos == 0 {
                self.done = true;
                return Ok(Some(std::mem::take(&mut self.buf)));
            }
            self.read_block_before()?;
        }
    }

    fn read_block_before(&mut self) -> io::Result<()> {
        let start = self.pos.saturating_sub(BLOCK_BYTES);
        // Bounded by BLOCK_BYTES, so the cast cannot truncate.
        let n = (self.pos - start) as usize;
        let mut block = vec![0u8; n];
        self.file.seek(SeekFrom::Start(start))?;
        self.file.read_exact(&mut block)?;
        block.extend_from_slice(&self.buf);
        self.buf = block;
        self.pos = start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines_of(content: &[u8]) -> Vec<Vec<u8>> {
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(content).unwrap();
        let mut it = BackwardLines::new(tmp).unwrap();
        let mut out = Vec::new();
        while let Some(l) = it.next_line().unwrap() {
            out.push(l);
        }
        out.reverse();
        out
    }

    #[test]
    fn yields_lines_like_a_forward_split() {
        assert!(lines_of(b"").is_empty());
        assert_eq!(lines_of(b"a\n"), vec![b"a".to_vec()]);
        assert_eq!(lines_of(b"a\nb"), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            lines_of(b"a\n\nb\n"),
            vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]
        );
        assert_eq!(lines_of(b"\n"), vec![b"".to_vec()]);
    }

    #[test]
    fn lines_longer_than_a_block_survive_block_boundaries() {
        let long = vec![b'x'; BLOCK_BYTES as usize * 2 + 17];
        let mut content = b"first\n".to_vec();
        content.extend_from_slice(&long);
        content.extend_from_slice(b"\nlast\n");
        assert_eq!(
            lines_of(&content),
            vec![b"first".to_vec(), long, b"last".to_vec()]
        );
    }
}
