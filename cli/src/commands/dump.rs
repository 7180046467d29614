//! `dump`: one page as hex, or its page-table entry.

use std::path::PathBuf;
use std::process::ExitCode;

use mappedpages::PageId;

use crate::commands::AtArgs;
use crate::fail::Failure;
use crate::open::{fail, page_size, read_only, with_page_size};
use crate::out::Out;

/// Print one page (by logical id) as hex, or its page-table entry.
///
/// With --entry: where its bytes are, their length, codec, birth version
/// and checksums. Repeated lines of the hex dump are shown as one `*`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  mappedpages dump store.db 7\n  mappedpages dump store.db 7 --entry\n  \
                        mappedpages --json dump store.db 7 --snapshot nightly")]
pub struct Args {
    /// The store file.
    pub file: PathBuf,
    /// The page's logical id.
    pub id: u64,
    /// Print the page-table entry instead of the bytes.
    #[arg(long)]
    pub entry: bool,
    #[command(flatten)]
    pub at: AtArgs,
}

impl Args {
    pub fn run(&self, out: &mut Out) -> Result<ExitCode, Failure> {
        let file = &self.file;
        let id = PageId::from_raw(self.id);
        with_page_size!(file, page_size(file)?, P => {
            let store = read_only::<P>(file)?;
            let r = store.begin_read_at(self.at.at(store.version())).map_err(fail(file))?;
            if self.entry {
                let e = r.entry(id).map_err(fail(file))?;
                let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
                if out.json {
                    out.json(&serde_json::json!({
                        "schema": "mappedpages/1", "command": "dump", "file": file, "version": r.version(), "id": self.id,
                        "entry": {
                            "allocated": e.is_allocated(),
                            "location_sector": e.location,
                            "location_byte": e.location * 512,
                            "stored_len": e.stored_len,
                            "codec": e.codec,
                            "flags": e.flags,
                            "birth": e.birth,
                            "content": hex(&e.content),
                            "stored_check": hex(&e.stored_check),
                        },
                    }));
                } else {
                    out.line(format!("page {} in {}", self.id, r.version()));
                    out.line(format!("  allocated     {}", e.is_allocated()));
                    if e.location == 0 {
                        out.line("  location      none (reads as zeros)");
                    } else {
                        out.line(format!("  location      sector {} (byte {})", e.location, e.location * 512));
                    }
                    out.line(format!("  stored length {}", e.stored_len));
                    out.line(format!("  codec         {}", e.codec));
                    out.line(format!("  flags         {:#04x}", e.flags));
                    out.line(format!("  birth         v{}", e.birth));
                    out.line(format!("  content hash  {}", hex(&e.content)));
                    out.line(format!("  stored check  {}", hex(&e.stored_check)));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let bytes = r.page(id).map_err(fail(file))?;
            if out.json {
                let hex: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
                out.json(&serde_json::json!({
                    "schema": "mappedpages/1", "command": "dump", "file": file, "version": r.version(),
                    "id": self.id, "hex": hex,
                }));
            } else {
                for line in hexdump(bytes) {
                    out.line(line);
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// `xxd`-like lines of 16 bytes; a run of repeated lines is one `*`.
fn hexdump(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut last: Option<&[u8]> = None;
    let mut starred = false;
    for (i, chunk) in bytes.chunks(16).enumerate() {
        if last == Some(chunk) && i * 16 + 16 < bytes.len() {
            if !starred {
                out.push("*".to_owned());
                starred = true;
            }
            continue;
        }
        starred = false;
        last = Some(chunk);
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let text: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        out.push(format!("{:08x}  {:<47}  |{text}|", i * 16, hex.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hexdump_collapses_repeats_and_keeps_the_last_line() {
        let mut page = vec![0u8; 64];
        page[..5].copy_from_slice(b"hello");
        let lines = super::hexdump(&page);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("00000000  68 65 6c 6c 6f 00"));
        assert!(lines[0].ends_with("|hello...........|"));
        assert_eq!(lines[2], "*");
        assert!(lines[3].starts_with("00000030  00"));
    }
}
