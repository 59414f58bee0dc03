//! Bulk loading with `COPY ... FROM STDIN` (text format): a row writer that escapes fields and streams the
//! buffer to the server in chunks, so a generator never holds a whole table in memory.

use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

/// Bytes buffered before a chunk is sent.
const CHUNK: usize = 4 << 20;

/// One running `COPY <table> (<columns>) FROM STDIN`.
pub struct CopyWriter<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    buf: Vec<u8>,
    first: bool,
    rows: u64,
}

impl<'c> CopyWriter<'c> {
    /// Start `COPY {table} ({columns}) FROM STDIN` (identifiers are the caller's constants, never input).
    pub async fn start(
        conn: &'c mut PgConnection,
        table: &str,
        columns: &str,
    ) -> Result<Self, sqlx::Error> {
        let copy = conn
            .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN"))
            .await?;
        Ok(Self {
            copy,
            buf: Vec::with_capacity(CHUNK + 4096),
            first: true,
            rows: 0,
        })
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// A text field, escaped for the text format.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self
    }

    /// Any value by its `Display` (numbers, dates: nothing to escape).
    pub fn val(&mut self, v: impl std::fmt::Display) -> &mut Self {
        use std::io::Write;
        self.sep();
        let _ = write!(self.buf, "{v}");
        self
    }

    /// SQL NULL.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    /// `Some(v)` as [`val`](Self::val), `None` as NULL.
    pub fn opt(&mut self, v: Option<impl std::fmt::Display>) -> &mut Self {
        match v {
            Some(v) => self.val(v),
            None => self.null(),
        }
    }

    /// End the row; sends a chunk when the buffer is full.
    pub async fn end_row(&mut self) -> Result<(), sqlx::Error> {
        self.buf.push(b'\n');
        self.first = true;
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
            self.buf.reserve(CHUNK + 4096);
        }
        Ok(())
    }

    /// Send the rest and finish the COPY; the number of rows the server stored.
    pub async fn finish(mut self) -> Result<u64, sqlx::Error> {
        if !self.buf.is_empty() {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
        }
        let n = self.copy.finish().await?;
        debug_assert_eq!(n, self.rows);
        Ok(n)
    }
}
