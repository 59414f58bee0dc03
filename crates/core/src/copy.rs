//! Bulk loading with `COPY ... FROM STDIN` (text format): a row writer that escapes fields and streams the
//! buffer to the server in chunks, so a generator never holds a whole table in memory; and what every generator
//! (`neurohub seed --lots …`, `--workspaces …`) checks and reports the same way: [`refusal`] before it starts,
//! [`Phases`] while it runs.

use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;
use std::time::Instant;

/// Why a generator must not load into `conn`'s database, or None: it loads with the triggers off
/// (`session_replication_role = replica`), which needs a superuser login, and it fills empty tables only
/// (`occupied_sql` counts the rows that would be in its way; `occupied` says what they are when it is not 0).
pub async fn refusal(
    conn: &mut PgConnection,
    occupied_sql: &str,
    occupied: &str,
) -> Result<Option<String>, sqlx::Error> {
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *conn)
            .await?;
    if !superuser {
        return Ok(Some(
            "the generator loads with the triggers off (session_replication_role = replica), which needs a superuser login in DATABASE_URL".into(),
        ));
    }
    let used: i64 = sqlx::query_scalar(occupied_sql)
        .fetch_one(&mut *conn)
        .await?;
    Ok((used > 0).then(|| {
        format!(
            "the database already has {occupied}: the generator fills an empty, deployed database"
        )
    }))
}

/// A generator's phase timer: each [`mark`](Self::mark) reports the time since the previous one through the
/// progress callback and records it.
pub struct Phases {
    prefix: &'static str,
    started: Instant,
    phase: Instant,
    done: Vec<(String, f64)>,
}

impl Phases {
    /// Start timing; `prefix` goes before each phase name in the progress lines (e.g. `"ATP "`).
    pub fn start(prefix: &'static str) -> Self {
        let now = Instant::now();
        Self {
            prefix,
            started: now,
            phase: now,
            done: Vec::new(),
        }
    }

    /// End the phase `name`: `"{prefix}{name}: 1.2 s"` to `progress`, and the next phase starts now.
    pub fn mark(&mut self, name: &str, progress: &mut (dyn FnMut(&str) + Send)) {
        let s = self.phase.elapsed().as_secs_f64();
        progress(&format!("{}{name}: {s:.1} s", self.prefix));
        self.done.push((name.to_string(), s));
        self.phase = Instant::now();
    }

    /// Seconds since [`start`](Self::start), and every (phase, seconds) marked.
    pub fn finish(self) -> (f64, Vec<(String, f64)>) {
        (self.started.elapsed().as_secs_f64(), self.done)
    }
}

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

#[cfg(test)]
mod tests {
    use super::Phases;

    #[test]
    fn phases_report_each_mark_with_the_prefix_and_keep_their_order() {
        let mut lines = Vec::new();
        let mut progress = |l: &str| lines.push(l.to_string());
        let mut p = Phases::start("ATP ");
        p.mark("sites", &mut progress);
        p.mark("audit rows", &mut progress);
        let (total, done) = p.finish();
        assert_eq!(
            done.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
            ["sites", "audit rows"]
        );
        assert!(
            lines[0].starts_with("ATP sites: ") && lines[0].ends_with(" s"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("ATP audit rows: "), "{lines:?}");
        assert!(total >= done.iter().map(|d| d.1).sum::<f64>());
    }
}
