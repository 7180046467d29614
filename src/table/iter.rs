//! In-order iteration over the allocated ids of one root.

use super::{Node, Place, TableView};
use crate::error::{Error, Result, Structure};
use crate::format::{SECTOR, TableRef};
use crate::geometry::{Budget, OVER_BUDGET};
use crate::ids::PageId;

/// A node on the way down, and the next of its slots to look at.
struct Frame<'a> {
    node: Node<'a>,
    next: usize,
}

/// Iterator over the allocated ids of a read view, in ascending order. Yields an
/// error (and then stops) if a table node is damaged, or if the walk would read
/// more nodes than the file has pages (a crafted tree whose nodes share
/// children: its walk would otherwise take fanout^depth steps).
///
/// The pull-based twin of the crate's table walk with live pruning: it reads
/// nodes with the same helpers (`Node::read`, `Place`), one node at a time.
pub struct LiveIds<'a> {
    view: TableView<'a>,
    stack: Vec<Frame<'a>>,
    start: Option<TableRef>,
    failed: bool,
    budget: Budget,
}

impl<'a> LiveIds<'a> {
    pub(crate) fn new(view: TableView<'a>) -> LiveIds<'a> {
        let start = (view.root.table_depth > 0 && view.root.table.location != 0).then_some(view.root.table);
        LiveIds { view, stack: Vec::new(), start, failed: false, budget: Budget::of_file(&view.reader) }
    }

    fn push(&mut self, r: &TableRef, place: Place) -> Result<()> {
        if !self.budget.take() {
            return Err(Error::corrupt(Structure::TableNode, r.location.saturating_mul(SECTOR), OVER_BUDGET));
        }
        let node = Node::read(&self.view.reader, r, place)?;
        self.stack.push(Frame { node, next: 0 });
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
            && let Err(e) = self.push(&top, Place::top(self.view.root.table_depth))
        {
            self.failed = true;
            return Some(Err(e));
        }
        let geo = self.view.geo;
        loop {
            let frame = self.stack.last_mut()?;
            let place = frame.node.place;
            if place.level == 0 {
                while frame.next < geo.leaf_fanout as usize {
                    let i = frame.next;
                    frame.next += 1;
                    if frame.node.entry(i).is_allocated() {
                        return Some(Ok(PageId::from_raw(place.id(i))));
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
            let child = frame.node.child(i);
            if child.live == 0 || child.location == 0 {
                continue;
            }
            if let Err(e) = self.push(&child, place.child(geo, i)) {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}
