//! Where results go: text lines, or one JSON object, on standard output.

use std::io::Write;

pub struct Out {
    pub json: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out { json }
    }

    /// A line of the text report (nothing with `--json`).
    pub fn line(&mut self, text: impl AsRef<str>) {
        if !self.json {
            let _ = writeln!(std::io::stdout(), "{}", text.as_ref());
        }
    }

    /// The JSON report (one object, pretty-printed).
    pub fn json(&mut self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        let _ = writeln!(std::io::stdout(), "{text}");
    }
}
