//! Node summaries: live count, newest birth and the logical content hash
//! (SPEC.md, "Content hash"), which ignores where pages sit in the file and how
//! deep the tree is.

use crate::format::{Hash16, TableNode};

pub(crate) struct ContentSummary {
    pub live: u64,
    pub max_birth: u64,
    pub content: Hash16,
}

/// blake3 over many small pieces, fed to the hasher a few KiB at a time (the
/// same bytes, so the same hash, as one `update` per piece, at a fraction of
/// the cost).
struct Buffered {
    hasher: blake3::Hasher,
    buf: [u8; 4096],
    len: usize,
}

impl Buffered {
    fn new(tag: &[u8]) -> Buffered {
        let mut b = Buffered { hasher: blake3::Hasher::new(), buf: [0; 4096], len: 0 };
        b.update(tag);
        b
    }

    fn update(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.hasher.update(&self.buf[..self.len]);
            self.len = 0;
        }
        if bytes.len() > self.buf.len() {
            self.hasher.update(bytes);
        } else {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    fn finish(mut self) -> Hash16 {
        self.hasher.update(&self.buf[..self.len]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.hasher.finalize().as_bytes()[..16]);
        out
    }
}

/// Summary of a leaf page whose first id is `first`.
pub(crate) fn leaf_content(page: &[u8], fanout: usize, first: u64) -> ContentSummary {
    let mut hasher = Buffered::new(b"leaf");
    let (mut live, mut max_birth) = (0u64, 0u64);
    for i in 0..fanout {
        let e = TableNode::entry(page, i);
        if e.is_allocated() {
            live += 1;
            max_birth = max_birth.max(e.birth);
            hasher.update(&first.saturating_add(i as u64).to_le_bytes());
            hasher.update(&e.content);
        }
    }
    let content = if live == 0 { [0; 16] } else { hasher.finish() };
    ContentSummary { live, max_birth, content }
}

/// Summary of an internal page whose children each cover `span` ids.
pub(crate) fn internal_content(page: &[u8], fanout: usize, span: u64, first: u64) -> ContentSummary {
    let mut hasher = Buffered::new(b"node");
    let (mut live, mut max_birth, mut nonempty) = (0u64, 0u64, 0usize);
    let mut only_first: Option<Hash16> = None;
    for i in 0..fanout {
        let c = TableNode::child(page, i);
        if c.live == 0 {
            continue;
        }
        live = live.saturating_add(c.live);
        max_birth = max_birth.max(c.max_birth);
        nonempty += 1;
        if i == 0 {
            only_first = Some(c.content);
        }
        hasher.update(&crate::geometry::child_first(first, i, span).to_le_bytes());
        hasher.update(&c.content);
    }
    let content = match (nonempty, only_first) {
        (0, _) => [0; 16],
        (1, Some(h)) => h,
        _ => hasher.finish(),
    };
    ContentSummary { live, max_birth, content }
}

#[cfg(test)]
mod tests {
    use super::Buffered;

    #[test]
    fn buffered_hash_equals_piecewise_hash() {
        let pieces: Vec<Vec<u8>> = (0..700u32).map(|i| vec![i as u8; (i as usize * 7) % 40]).collect();
        let mut plain = blake3::Hasher::new();
        plain.update(b"leaf");
        let mut buffered = Buffered::new(b"leaf");
        for p in &pieces {
            plain.update(p);
            buffered.update(p);
        }
        buffered.update(&[9u8; 5000]);
        plain.update(&[9u8; 5000]);
        assert_eq!(buffered.finish()[..], plain.finalize().as_bytes()[..16]);
    }
}
