//! One walk over what a root reaches: the page table and the free map.
//!
//! [`Walk`] is the driver. It descends from a reference, reads each node once,
//! checks its header against the reference (SPEC.md 4.3), does the `first` /
//! cover arithmetic of each child (saturating, SPEC.md 5 and 7), and, when
//! asked, prunes what cannot have changed ([`Prune`]) and checks what a
//! reference and the root promise ([`Walk::checked`]: checksums and version
//! bounds). A [`Visitor`] sees each node and entry and decides what to do with
//! them.
//!
//! Clients: `verify` (full walk, every check, extents collected) and recovery
//! (checked, pruned to what was written after the root's `synced_through`),
//! both through `crate::verify::Walker`; the test harness's extent collection
//! (the same `Walker`); export (the live entries, in id order). Incremental
//! backup ("what changed since version A": [`Prune::BornAfter`]),
//! defragmentation and a dump tool are meant to be clients too.
//!
//! Every walk's work is bounded by the file's size: a tree that references no
//! page twice reads at most one node per page of the file, so a walk that
//! would read more (a crafted tree whose nodes share children, which costs
//! fanout^depth visits) stops with one fault instead ([`Budget`]).
//!
//! The chains hanging off a root (pending list, catalog, deadlists) are not
//! trees and are read by their own loaders (`space::read_chain`,
//! `versions::load_catalog`).

use std::ops::{ControlFlow, Range};

use crate::error::{Error, Structure};
use crate::format::{Entry, MapNode, MapRef, SECTOR, TableRef, hash16};
use crate::geometry::{Budget, Geometry, OVER_BUDGET, child_first};
use crate::space::read_map_node;
use crate::storage::PageReader;
use crate::table::{Node, Place, check_header};

#[cfg(test)]
mod tests;

/// Whether a walk goes on: a visitor returns `Break` to stop it.
pub(crate) type Flow = ControlFlow<()>;

/// Which parts of a tree a walk enters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prune {
    /// Every node and every allocated entry.
    None,
    /// Only what version `s` may not have made durable (recovery, with `s` =
    /// the root's `synced_through`): nodes whose reference has `written > s`
    /// (table and free map), allocated entries with `birth > s`. A subtree
    /// whose reference has `written ≤ s` is not entered.
    WrittenAfter(u64),
    /// Only content born after version `a` (an incremental backup from `a`):
    /// table subtrees whose reference has `max_birth > a`, allocated entries
    /// with `birth > a`. Free-map nodes are entered when `written > a`.
    #[cfg_attr(not(test), allow(dead_code, reason = "the walk of incremental backup; tested here"))]
    BornAfter(u64),
    /// Only table subtrees with an allocated id below (`live > 0`), every
    /// allocated entry in them: the live set, as export copies it. Every
    /// free-map node.
    Live,
}

impl Prune {
    #[inline]
    fn enters_table(self, r: &TableRef) -> bool {
        match self {
            Prune::None => true,
            Prune::WrittenAfter(s) => r.written > s,
            Prune::BornAfter(a) => r.max_birth > a,
            Prune::Live => r.live > 0,
        }
    }

    #[inline]
    fn enters_map(self, r: &MapRef) -> bool {
        match self {
            Prune::None | Prune::Live => true,
            Prune::WrittenAfter(s) | Prune::BornAfter(s) => r.written > s,
        }
    }

    #[inline]
    fn keeps_entry(self, e: &Entry) -> bool {
        match self {
            Prune::None | Prune::Live => true,
            Prune::WrittenAfter(s) | Prune::BornAfter(s) => e.birth > s,
        }
    }
}

/// What the root under a checked walk promises (SPEC.md 5, 10, 12).
#[derive(Clone, Copy, Debug)]
struct Bounds {
    version: u64,
    next_id: u64,
}

/// Something a walk found wrong, handed to [`Visitor::fault`]. The walk does
/// not descend below a node with a fault.
#[derive(Debug)]
pub(crate) struct Fault {
    /// Which structure.
    pub structure: Structure,
    /// Its first sector (0 when it has no place of its own: an empty
    /// reference that is not all zero).
    pub sector: u64,
    /// The ids it affects (table nodes and pages).
    pub ids: Option<Range<u64>>,
    pub problem: Problem,
}

/// What is wrong, in a [`Fault`].
#[derive(Debug)]
pub(crate) enum Problem {
    /// Reading the node failed (`PageReader::page`, the header check): the
    /// error as a reader without a walk would get it.
    Read(Error),
    /// A check of a checked walk failed.
    Check(String),
}

impl Fault {
    fn check(structure: Structure, sector: u64, ids: Option<Range<u64>>, detail: impl Into<String>) -> Fault {
        Fault { structure, sector, ids, problem: Problem::Check(detail.into()) }
    }

    /// The fault in words (a read error as its whole message).
    pub fn detail(&self) -> String {
        match &self.problem {
            Problem::Read(e) => e.to_string(),
            Problem::Check(s) => s.clone(),
        }
    }

    /// The fault as an error: a read error as it was, a check as
    /// [`Error::Corrupt`].
    pub fn into_error(self) -> Error {
        match self.problem {
            Problem::Read(e) => e,
            Problem::Check(detail) => Error::corrupt(self.structure, self.sector.saturating_mul(SECTOR), detail),
        }
    }
}

/// What a client of [`Walk`] does with what it reaches. Nodes come in depth-first
/// order, children and entries in increasing id (or sector): a node's
/// `*_node` call, then its entries or its children's subtrees, then its
/// `leave_*` call. Only [`fault`](Visitor::fault) must be written.
///
/// `'a` is the lifetime of the pages: the pin of the root walked.
pub(crate) trait Visitor<'a> {
    /// Something is wrong; return `Break` to stop the walk.
    fn fault(&mut self, fault: Fault) -> Flow;

    /// A table node the pruning lets in, before it is read. `false` skips it
    /// and its subtree (e.g. one already walked from another root).
    fn enter_table(&mut self, _r: &TableRef, _place: Place) -> bool {
        true
    }

    /// A table node that was read and passed the checks, before its entries
    /// or children.
    fn table_node(&mut self, _r: &TableRef, _node: &Node<'a>) {}

    /// An allocated entry of a leaf that the pruning keeps (and, in a checked
    /// walk, born no later than the root and below its `next_id`).
    fn entry(&mut self, _id: u64, _e: &Entry) -> Flow {
        Flow::Continue(())
    }

    /// An entry of a leaf that is not allocated (whatever the pruning).
    fn unallocated(&mut self, _id: u64, _e: &Entry) {}

    /// After a table node's entries or children.
    fn leave_table(&mut self, _r: &TableRef, _node: &Node<'a>) {}

    /// A free-map node the pruning lets in, before it is read. `false` skips it.
    fn enter_map(&mut self, _r: &MapRef, _level: usize, _first: u64) -> bool {
        true
    }

    /// A free-map node that was read and passed the checks, before its children.
    fn map_node(&mut self, _r: &MapRef, _level: usize, _first: u64, _page: &'a [u8]) {}

    /// After a free-map node's children (right after [`map_node`](Visitor::map_node) for a leaf).
    fn leave_map(&mut self, _r: &MapRef, _level: usize, _first: u64, _page: &'a [u8]) {}
}

/// The walk driver: where to read, what to prune, what to check.
#[derive(Clone, Copy)]
pub(crate) struct Walk<'a> {
    reader: PageReader<'a>,
    geo: &'a Geometry,
    prune: Prune,
    bounds: Option<Bounds>,
}

impl<'a> Walk<'a> {
    /// A walk that enters everything and checks only what following a
    /// reference needs (the page lies in the file; its header matches).
    pub fn new(reader: PageReader<'a>, geo: &'a Geometry) -> Walk<'a> {
        Walk { reader, geo, prune: Prune::None, bounds: None }
    }

    /// Enters only what `prune` lets in.
    pub fn pruned(self, prune: Prune) -> Walk<'a> {
        Walk { prune, ..self }
    }

    /// Also checks what references and the root promise (recovery, verify):
    /// each node's checksum, an empty reference being all zero, `written ≤`
    /// the root's `version` and each child's `written ≤` its parent's, each
    /// entry's `birth ≤ version` and id `< next_id`.
    pub fn checked(self, version: u64, next_id: u64) -> Walk<'a> {
        Walk { bounds: Some(Bounds { version, next_id }), ..self }
    }

    /// Walks the page table under `top`, a table of `depth` levels (a root's
    /// `table` and `table_depth`).
    pub fn table<V: Visitor<'a>>(&self, v: &mut V, top: &TableRef, depth: u8) -> Flow {
        if depth == 0 {
            return Flow::Continue(());
        }
        self.table_ref(v, top, Place::top(depth), &mut Budget::of_file(&self.reader))
    }

    /// Walks the free map under `top`, a map of `depth` levels (a root's `map`
    /// and `map_depth`).
    pub fn map<V: Visitor<'a>>(&self, v: &mut V, top: &MapRef, depth: u8) -> Flow {
        if depth == 0 {
            return Flow::Continue(());
        }
        self.map_ref(v, top, depth as usize - 1, 0, &mut Budget::of_file(&self.reader))
    }

    fn table_ref<V: Visitor<'a>>(&self, v: &mut V, r: &TableRef, place: Place, budget: &mut Budget) -> Flow {
        let checked = self.bounds.is_some();
        if r.location == 0 {
            if checked && *r != TableRef::default() {
                let ids = Some(place.ids(self.geo));
                return v.fault(Fault::check(
                    Structure::TableNode,
                    0,
                    ids,
                    "an empty subtree's reference is not all zero",
                ));
            }
            return Flow::Continue(());
        }
        if !self.prune.enters_table(r) || !v.enter_table(r, place) {
            return Flow::Continue(());
        }
        let ids = place.ids(self.geo);
        let fault =
            |problem| Fault { structure: Structure::TableNode, sector: r.location, ids: Some(ids.clone()), problem };
        if !budget.take() {
            // One fault, then the whole walk stops, whatever the visitor says:
            // every node left would fault the same way.
            let _ = v.fault(fault(Problem::Check(OVER_BUDGET.into())));
            return Flow::Break(());
        }
        let page = match self.reader.page(r.location, Structure::TableNode) {
            Ok(p) => p,
            Err(e) => return v.fault(fault(Problem::Read(e))),
        };
        if checked && hash16(page) != r.checksum {
            return v.fault(fault(Problem::Check("checksum mismatch".into())));
        }
        if let Err(e) = check_header(page, r.location, r.written, place.level, place.first) {
            return v.fault(fault(Problem::Read(e)));
        }
        if let Some(b) = self.bounds
            && r.written > b.version
        {
            return v.fault(fault(Problem::Check("written after its root".into())));
        }
        let node = Node { page, place };
        v.table_node(r, &node);
        if place.level == 0 {
            for i in 0..self.geo.leaf_fanout as usize {
                let e = node.entry(i);
                let id = place.id(i);
                if !e.is_allocated() {
                    v.unallocated(id, &e);
                    continue;
                }
                if !self.prune.keeps_entry(&e) {
                    continue;
                }
                if let Some(b) = self.bounds
                    && (e.birth > b.version || id >= b.next_id)
                {
                    v.fault(Fault::check(
                        Structure::Page,
                        e.location,
                        Some(id..id.saturating_add(1)),
                        "entry born after its root or beyond next_id",
                    ))?;
                    continue;
                }
                v.entry(id, &e)?;
            }
        } else {
            for i in 0..self.geo.internal_fanout as usize {
                let c = node.child(i);
                if checked && c.written > r.written {
                    v.fault(fault(Problem::Check(format!("child {i} newer than its parent"))))?;
                    continue;
                }
                let child = place.child(self.geo, i);
                // Ids from next_id on were never handed out: no node covers only
                // them. So every node's place (level, first id) is below next_id
                // and unsaturated, hence distinct, and the header check lets no
                // node stand at two places of one version's table.
                if let Some(b) = self.bounds
                    && c.location != 0
                    && child.first >= b.next_id
                {
                    v.fault(fault(Problem::Check(format!("child {i} covers only ids from next_id on"))))?;
                    continue;
                }
                self.table_ref(v, &c, child, budget)?;
            }
        }
        v.leave_table(r, &node);
        Flow::Continue(())
    }

    fn map_ref<V: Visitor<'a>>(&self, v: &mut V, r: &MapRef, level: usize, first: u64, budget: &mut Budget) -> Flow {
        let checked = self.bounds.is_some();
        if r.location == 0 {
            if checked && *r != MapRef::default() {
                return v.fault(Fault::check(
                    Structure::FreeMap,
                    0,
                    None,
                    "an absent node's reference is not all zero",
                ));
            }
            return Flow::Continue(());
        }
        if !self.prune.enters_map(r) || !v.enter_map(r, level, first) {
            return Flow::Continue(());
        }
        let fault = |problem| Fault { structure: Structure::FreeMap, sector: r.location, ids: None, problem };
        if !budget.take() {
            let _ = v.fault(fault(Problem::Check(OVER_BUDGET.into())));
            return Flow::Break(());
        }
        let page = match self.reader.page(r.location, Structure::FreeMap) {
            Ok(p) => p,
            Err(e) => return v.fault(fault(Problem::Read(e))),
        };
        if checked && hash16(page) != r.checksum {
            return v.fault(fault(Problem::Check("checksum mismatch".into())));
        }
        if let Err(e) = read_map_node(&self.reader, r, level, first) {
            return v.fault(fault(Problem::Read(e)));
        }
        v.map_node(r, level, first, page);
        if level > 0 {
            let span = self.geo.sector_cover[level - 1];
            for i in 0..self.geo.map_fanout as usize {
                let c = MapNode::child(page, i);
                if checked && c.written > r.written {
                    v.fault(fault(Problem::Check(format!("child {i} newer than its parent"))))?;
                    continue;
                }
                self.map_ref(v, &c, level - 1, child_first(first, i, span), budget)?;
            }
        }
        v.leave_map(r, level, first, page);
        Flow::Continue(())
    }
}
