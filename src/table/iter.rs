//! In-order iteration over the allocated ids of one root.

use super::{TableView, read_node};
use crate::error::Result;
use crate::format::{TableNode, TableRef};
use crate::ids::PageId;

struct Frame<'a> {
    page: &'a [u8],
    level: usize,
    first: u64,
    next: usize,
}

/// Iterator over the allocated ids of a read view, in ascending order. Yields an
/// error (and then stops) if a table node is damaged.
pub struct LiveIds<'a> {
    view: TableView<'a>,
    stack: Vec<Frame<'a>>,
    start: Option<TableRef>,
    failed: bool,
}

impl<'a> LiveIds<'a> {
    pub(crate) fn new(view: TableView<'a>) -> LiveIds<'a> {
        let start = (view.root.table_depth > 0 && view.root.table.location != 0).then_some(view.root.table);
        LiveIds { view, stack: Vec::new(), start, failed: false }
    }

    fn push(&mut self, r: &TableRef, level: usize, first: u64) -> Result<()> {
        let page = read_node(&self.view.reader, r, level, first)?;
        self.stack.push(Frame { page, level, first, next: 0 });
        Ok(())
    }
}

impl Iterator for LiveIds<'_> {
    type Item = Result<PageId>;

    fn next(&mut self) -> Option<Result<PageId>> {
        if self.failed {
            return None;
        }
        if let Some(top) = self.start.take()
            && let Err(e) = self.push(&top, self.view.root.table_depth as usize - 1, 0)
        {
            self.failed = true;
            return Some(Err(e));
        }
        let geo = self.view.geo;
        loop {
            let frame = self.stack.last_mut()?;
            if frame.level == 0 {
                while frame.next < geo.leaf_fanout as usize {
                    let i = frame.next;
                    frame.next += 1;
                    if TableNode::entry(frame.page, i).is_allocated() {
                        return Some(Ok(PageId::from_raw(frame.first.saturating_add(i as u64))));
                    }
                }
                self.stack.pop();
                continue;
            }
            if frame.next >= geo.internal_fanout as usize {
                self.stack.pop();
                continue;
            }
            let i = frame.next;
            frame.next += 1;
            let child = TableNode::child(frame.page, i);
            if child.live == 0 || child.location == 0 {
                continue;
            }
            let (level, first) =
                (frame.level - 1, crate::geometry::child_first(frame.first, i, geo.id_cover[frame.level - 1]));
            if let Err(e) = self.push(&child, level, first) {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}
