//! Drawing a `SpaceLayout`: a compact text map (one character per cell of the
//! file, the kind that fills most of it) and an SVG (every extent, to scale).

use mappedpages::{SpaceKind, SpaceLayout};

/// Every kind, in legend order, with its map character, SVG colour and name.
pub const KINDS: [(SpaceKind, char, &str, &str); 5] = [
    (SpaceKind::Live, '#', "#2b6cb0", "live"),
    (SpaceKind::Metadata, 'm', "#805ad5", "metadata"),
    (SpaceKind::History, 'h', "#dd6b20", "history-held"),
    (SpaceKind::Snapshot, 's', "#d53f8c", "snapshot-held"),
    (SpaceKind::Free, '.', "#e2e8f0", "free"),
];

fn entry(kind: SpaceKind) -> (char, &'static str, &'static str) {
    let (_, c, colour, name) = KINDS.iter().copied().find(|k| k.0 == kind).unwrap_or(KINDS[4]);
    (c, colour, name)
}

/// The kind filling most of each of `cells` equal slices of the file.
pub fn cells(map: &SpaceLayout, cells: usize) -> Vec<SpaceKind> {
    let len = map.file_len.max(1);
    let cells = cells.max(1);
    let mut out = Vec::with_capacity(cells);
    let mut i = 0;
    for c in 0..cells as u64 {
        let (from, to) = (len * c / cells as u64, (len * (c + 1) / cells as u64).max(len * c / cells as u64 + 1));
        let mut weight = [0u64; 5];
        while i < map.extents.len() && map.extents[i].start + map.extents[i].len <= from {
            i += 1;
        }
        let mut j = i;
        while j < map.extents.len() && map.extents[j].start < to {
            let e = &map.extents[j];
            let overlap = (e.start + e.len).min(to) - e.start.max(from);
            let k = KINDS.iter().position(|k| k.0 == e.kind).unwrap_or(4);
            weight[k] += overlap;
            j += 1;
        }
        // Rare kinds stay visible: any live or held byte beats free space.
        let pick = (0..4).filter(|&k| weight[k] > 0).max_by_key(|&k| weight[k]).unwrap_or(4);
        out.push(KINDS[pick].0);
    }
    out
}

/// The text map: rows of `width` cells, then a legend with byte counts.
pub fn text(map: &SpaceLayout, width: usize, rows: usize) -> Vec<String> {
    let pages = map.file_len / map.page_size as u64;
    let n = (pages as usize).clamp(1, width * rows);
    let cells = cells(map, n);
    let mut lines: Vec<String> = cells.chunks(width).map(|row| row.iter().map(|&k| entry(k).0).collect()).collect();
    let per = map.file_len.div_ceil(n as u64);
    lines.push(format!("one cell = {} ({} pages)", bytes(per), per.div_ceil(map.page_size as u64)));
    for (kind, c, _, name) in KINDS {
        lines.push(format!("  {c} {name:<14} {:>12}", bytes(map.bytes(kind))));
    }
    lines
}

/// An SVG drawing of every extent: the file as rows of `width` pages.
pub fn svg(map: &SpaceLayout) -> String {
    let ps = map.page_size as u64;
    let pages = map.file_len.div_ceil(ps).max(1);
    let per_row = 128u64.min(pages);
    let rows = pages.div_ceil(per_row);
    let (cell, legend) = (8u64, 24u64);
    let (w, h) = ((per_row * cell).max(760), rows * cell + legend);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <title>mappedpages space map: version {}, {} bytes, {}-byte pages</title>\n",
        map.version.get(),
        map.file_len,
        map.page_size
    );
    for e in &map.extents {
        let (_, colour, name) = entry(e.kind);
        // An extent may span rows: one rectangle per row piece, in pages.
        let mut p = e.start / ps;
        let end = (e.start + e.len).div_ceil(ps);
        while p < end {
            let (row, col) = (p / per_row, p % per_row);
            let run = (end - p).min(per_row - col);
            s.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{cell}\" fill=\"{colour}\"><title>{name}: bytes {}..{}</title></rect>\n",
                col * cell,
                row * cell,
                run * cell,
                e.start,
                e.start + e.len
            ));
            p += run;
        }
    }
    let mut x = 0;
    for (kind, _, colour, name) in KINDS {
        let y = rows * cell + 6;
        s.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"11\">{name} {}</text>\n",
            x + 16,
            y + 10,
            bytes(map.bytes(kind))
        ));
        x += 150;
    }
    s.push_str("</svg>\n");
    s
}

/// Bytes in binary units: `12.0 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}
