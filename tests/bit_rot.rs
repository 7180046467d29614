//! Bit rot: one flipped bit anywhere in a store file must be found — by open (a
//! typed error, or a fall back to the previous root when the flip hit something
//! only the newest commit reaches) or by `verify()`, which names the damaged
//! logical page — unless it landed in space nothing reaches, in which case every
//! page still reads back exactly.
//!
//! The store exposes no physical locations, so data pages carry a 16-byte
//! marker (`"BROT"`, id, generation) and are found by searching the image.
//! `MAPPEDPAGES_FLIPS` sets the number of flips (default 500),
//! `MAPPEDPAGES_BITROT_SEED` the seed.

use std::collections::HashMap;
use std::time::Instant;

use mappedpages::storage::{MemoryStorage, Rng};
use mappedpages::testing::{layout_of, root_slot_offset};
use mappedpages::{Error, Options, PageId, Store, Structure};

const PAGE: usize = 4096;
const PAGES: usize = 3000;
const MAGIC: &[u8; 4] = b"BROT";

/// Page `id` as written at generation `generation`: the marker, then bytes
/// unique to the pair.
fn page_bytes(id: u64, generation: u64) -> Vec<u8> {
    let mut out = vec![0u8; PAGE];
    out[..4].copy_from_slice(MAGIC);
    out[4..8].copy_from_slice(&(id as u32).to_le_bytes());
    out[8..16].copy_from_slice(&generation.to_le_bytes());
    mappedpages::testing::fill_pattern(&mut out[16..], (id << 32 ^ generation).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    out
}

/// Logical content of a version: id → generation.
type Model = HashMap<u64, u64>;

/// The clean store and what each of its last two versions holds.
struct Fixture {
    image: Vec<u8>,
    newest: u64,
    /// Content of the newest version and of the one before.
    models: [Model; 2],
    /// Where each (id, generation) lives in the image.
    located: HashMap<(u64, u64), usize>,
    /// The root slot (0 or 1) holding the newest version.
    newest_slot: usize,
}

impl Fixture {
    fn model(&self, version: u64) -> Option<&Model> {
        if version == self.newest {
            Some(&self.models[0])
        } else if version + 1 == self.newest {
            Some(&self.models[1])
        } else {
            None
        }
    }

    /// The physical page holding the newest copy of `id`.
    fn offset(&self, id: u64) -> usize {
        self.located[&(id, self.models[0][&id])]
    }
}

/// Several commits over 3000 pages: a table of a few levels, a free map, pending
/// pages, freed and reused ids, and a last commit that rewrites a few pages.
fn build(rng: &mut Rng) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rot.db");
    let mut generation = 0u64;
    let mut model = Model::new();
    let mut previous = Model::new();
    let newest;
    {
        let store = Store::<PAGE>::create(&path).expect("create");
        let mut write = |store: &Store<PAGE>, alloc: usize, rewrite: usize, free: usize, rng: &mut Rng| {
            previous = model.clone();
            let mut w = store.begin_write().expect("begin_write");
            for id in w.alloc_bulk(alloc).expect("alloc") {
                model.insert(id.get(), 0);
            }
            let mut live: Vec<u64> = model.keys().copied().collect();
            live.sort_unstable();
            for _ in 0..free {
                let id = live.swap_remove(rng.below(live.len() as u64) as usize);
                w.free(PageId::from_raw(id)).expect("free");
                model.remove(&id);
            }
            let mut targets: Vec<u64> = model.iter().filter(|(_, g)| **g == 0).map(|(id, _)| *id).collect();
            targets.extend((0..rewrite).map(|_| live[rng.below(live.len() as u64) as usize]));
            for id in targets {
                generation += 1;
                w.write(PageId::from_raw(id), &page_bytes(id, generation)).expect("write");
                model.insert(id, generation);
            }
            w.commit().expect("commit").get()
        };
        write(&store, PAGES, 0, 0, rng);
        write(&store, 0, 400, 150, rng);
        write(&store, 100, 200, 0, rng);
        write(&store, 0, 100, 200, rng);
        newest = write(&store, 0, 6, 0, rng);
        let report = store.verify().expect("verify");
        assert!(report.is_clean(), "the clean store is damaged: {:?}", report.damage);
    }
    let image = std::fs::read(&path).expect("read the image");
    let mut located = HashMap::new();
    for (i, page) in image.chunks_exact(PAGE).enumerate() {
        if &page[..4] == MAGIC {
            let id = u32::from_le_bytes(page[4..8].try_into().unwrap()) as u64;
            let generation = u64::from_le_bytes(page[8..16].try_into().unwrap());
            if page == page_bytes(id, generation) {
                let earlier = located.insert((id, generation), i * PAGE);
                assert!(earlier.is_none(), "page {id} generation {generation} is stored twice");
            }
        }
    }
    for m in [&model, &previous] {
        for (id, generation) in m {
            assert!(located.contains_key(&(*id, *generation)), "page {id} generation {generation} not in the image");
        }
    }
    let slot_version = |slot: usize| {
        let at = root_slot_offset(&image, slot) as usize;
        u64::from_le_bytes(image[at + 8..][..8].try_into().unwrap())
    };
    let newest_slot = if slot_version(0) == newest { 0 } else { 1 };
    assert_eq!(slot_version(newest_slot), newest);
    assert_eq!(slot_version(1 - newest_slot), newest - 1, "the other slot holds the previous version");
    Fixture { image, newest, models: [model, previous], located, newest_slot }
}

fn open(image: &[u8], verify_reads: bool) -> mappedpages::Result<Store<PAGE>> {
    let storage = MemoryStorage::from_bytes(image, image.len() + (4 << 20)).expect("memory");
    Store::<PAGE>::open_on(storage, Options::default().verify_reads(verify_reads))
}

/// Every page of the store's version reads back as the model says.
fn check_content(fx: &Fixture, store: &Store<PAGE>) -> Result<(), String> {
    let r = store.begin_read().map_err(|e| e.to_string())?;
    let v = r.version().get();
    let model = fx.model(v).ok_or(format!("opened at v{v}, which is neither of the last two"))?;
    let mut n = 0;
    for id in r.ids() {
        let id = id.map_err(|e| e.to_string())?;
        let generation = model.get(&id.get()).ok_or(format!("v{v}: {id} is live but not in the model"))?;
        let at = fx.located[&(id.get(), *generation)];
        if r.page(id).map_err(|e| e.to_string())? != &fx.image[at..at + PAGE] {
            return Err(format!("v{v}: {id} reads wrong bytes"));
        }
        n += 1;
    }
    if n != model.len() {
        return Err(format!("v{v}: {n} live pages, the model has {}", model.len()));
    }
    Ok(())
}

#[derive(Default, Debug)]
struct Tally {
    /// Open failed with a typed error.
    open_refused: usize,
    /// Open fell back to the previous root, which verified clean.
    fell_back: usize,
    /// Verify named the damage.
    verify_found: usize,
    /// Nothing noticed, and every page read back exactly (unreached space).
    unreached: usize,
    /// Of `fell_back` after a flip in the newest root slot: the slot was reported as passed over.
    bad_slot_reported: usize,
    /// Of `fell_back` after a flip elsewhere: verify reported the rejected root.
    rejected_reported: usize,
    /// A flip in the older root slot: it was reported as passed over.
    older_slot_reported: usize,
    /// Reads with `verify_reads` refused the damaged page.
    read_refused: usize,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    /// A byte of the newest copy of a data page.
    Data(u64),
    /// Sectors 0..3: the header and the root slots.
    Meta,
    /// The rest of the meta area.
    MetaTail,
    /// Anywhere at all.
    Anywhere,
}

#[test]
fn bit_rot_every_flipped_bit_is_found_or_harmless() {
    let flips: usize = std::env::var("MAPPEDPAGES_FLIPS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let seed = mappedpages::testing::seed_from_env("MAPPEDPAGES_BITROT_SEED");
    eprintln!("bit_rot: {flips} flips");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let fx = build(&mut rng);
    let built = started.elapsed();
    let newest_ids: Vec<u64> = {
        let mut ids: Vec<u64> = fx.models[0].keys().copied().collect();
        ids.sort_unstable();
        ids
    };
    let last_written: Vec<u64> =
        newest_ids.iter().copied().filter(|id| fx.models[1].get(id) != Some(&fx.models[0][id])).collect();
    assert!(!last_written.is_empty());
    let mut image = fx.image.clone();
    let mut tally = Tally::default();
    for flip in 0..flips {
        let target = match rng.below(20) {
            0..=8 => Target::Data(newest_ids[rng.below(newest_ids.len() as u64) as usize]),
            // Pages the newest commit wrote: recovery checks them, so it falls back.
            9 => Target::Data(last_written[rng.below(last_written.len() as u64) as usize]),
            10..=13 => Target::Meta,
            14 => Target::MetaTail,
            _ => Target::Anywhere,
        };
        let layout = layout_of(&fx.image);
        let records = [0, layout.root_slot_offset(0), layout.root_slot_offset(1)];
        let meta_len = layout.meta_pages(PAGE) * PAGE as u64;
        let at = match target {
            Target::Data(id) => fx.offset(id) + rng.below(PAGE as u64) as usize,
            Target::Meta => (records[rng.below(3) as usize] + rng.below(512)) as usize,
            Target::MetaTail => loop {
                let at = rng.below(meta_len);
                if !layout.holds_record(at) {
                    break at as usize;
                }
            },
            Target::Anywhere => rng.below(image.len() as u64) as usize,
        };
        // Name what was hit (a random flip may land in a data page too).
        let in_slot = |slot: usize| (records[slot + 1]..records[slot + 1] + 512).contains(&(at as u64));
        let hit = match at {
            0..512 => "header",
            _ if in_slot(fx.newest_slot) => "newest root",
            _ if in_slot(1 - fx.newest_slot) => "older root",
            _ if (at as u64) < meta_len => "meta tail",
            _ => "file",
        };
        let data_id = fx.models[0].keys().copied().find(|&id| (fx.offset(id)..fx.offset(id) + PAGE).contains(&at));
        let bit = 1u8 << rng.below(8);
        image[at] ^= bit;
        let what = format!("flip {flip}: bit {bit:#04x} of byte {at} ({hit}, newest copy of {data_id:?}), seed {seed}");
        let outcome = judge(&fx, &image, at, hit, data_id, &mut tally, flip);
        image[at] ^= bit;
        if let Err(e) = outcome {
            panic!("{what}: {e}");
        }
    }
    assert_eq!(image, fx.image);
    eprintln!(
        "bit_rot: {flips} flips in {:.1} s (store built in {:.1} s, {} KiB): {tally:?}",
        started.elapsed().as_secs_f64(),
        built.as_secs_f64(),
        fx.image.len() >> 10
    );
}

/// Opens the damaged image and checks that the flip was found or harmless.
fn judge(
    fx: &Fixture,
    image: &[u8],
    at: usize,
    hit: &str,
    data_id: Option<u64>,
    tally: &mut Tally,
    flip: usize,
) -> Result<(), String> {
    let store = match open(image, false) {
        Ok(store) => store,
        Err(e) => {
            // Only the header is needed by every root: anything else that makes
            // open fail leaves no root to fall back to, which one flip must not do.
            if hit != "header" {
                return Err(format!("open failed: {e}"));
            }
            if !matches!(e, Error::Corrupt { structure: Structure::Header, .. } | Error::UnsupportedFormat(_)) {
                return Err(format!("a damaged header gave an unexpected error: {e:?}"));
            }
            tally.open_refused += 1;
            return Ok(());
        }
    };
    if hit == "header" {
        return Err("opened a store whose header is damaged".into());
    }
    let version = store.version().get();
    let report = store.verify().map_err(|e| format!("verify: {e}"))?;
    let damage = &report.damage;
    if version + 1 == fx.newest {
        // Recovery rejected the newest root: the flip hit that root or something
        // only it reaches (written by the newest commit). The previous root is
        // intact and must read back exactly.
        check_content(fx, &store).map_err(|e| format!("after falling back: {e}"))?;
        tally.fell_back += 1;
        match hit {
            // The damaged record is reported one way: as the slot open passed
            // over (its record does not decode), in `rejected_root` and in
            // verify's report alike, and not as damage of the version opened.
            "newest root" => match (&damage[..], &report.rejected_root) {
                ([], Some(r))
                    if r.slot == fx.newest_slot && r.version.is_none() && store.rejected_root().as_ref() == Some(r) =>
                {
                    tally.bad_slot_reported += 1
                }
                _ => return Err(format!("fell back; expected the passed-over slot reported alone: {report:?}")),
            },
            _ if !damage.is_empty() => {
                return Err(format!("fell back to a root that verify finds damaged: {damage:?}"));
            }
            // The newest root decoded but failed recovery's walk: verify says
            // which root was passed over.
            _ => match &report.rejected_root {
                Some(r) if r.version.map(|v| v.get()) == Some(fx.newest) && r.slot == fx.newest_slot => {
                    tally.rejected_reported += 1
                }
                other => return Err(format!("fell back, but verify reports the rejected root as {other:?}")),
            },
        }
        return Ok(());
    }
    if version != fx.newest {
        return Err(format!("opened at v{version}, expected v{} or the one before", fx.newest));
    }
    match (hit, data_id) {
        ("newest root", _) => return Err("the damaged newest root was accepted".into()),
        ("older root", _) => {
            // The fallback root is damaged: open must not need it. The slot is
            // reported as passed over, by `rejected_root` and verify alike.
            match (&damage[..], &report.rejected_root) {
                ([], Some(r))
                    if r.slot == 1 - fx.newest_slot
                        && r.version.is_none()
                        && store.rejected_root().as_ref() == Some(r) =>
                {
                    tally.older_slot_reported += 1
                }
                _ => return Err(format!("expected the older slot reported as passed over, verify says {report:?}")),
            }
        }
        ("meta tail", _) => {
            if !(damage.len() == 1 && damage[0].structure == Structure::File) {
                return Err(format!("expected the unused meta bytes reported, verify says {damage:?}"));
            }
            tally.verify_found += 1;
        }
        (_, Some(id)) => {
            // A data page of the newest version: exactly that logical page.
            let named: Vec<_> = damage.iter().map(|d| (d.structure, d.page())).collect();
            if named != [(Structure::Page, Some(PageId::from_raw(id)))] {
                return Err(format!("expected exactly page {id} reported, verify says {damage:?}"));
            }
            tally.verify_found += 1;
            if flip.is_multiple_of(8) {
                drop(store);
                let store = open(image, true).map_err(|e| format!("reopen with verify_reads: {e}"))?;
                let r = store.begin_read().map_err(|e| e.to_string())?;
                match r.page(PageId::from_raw(id)) {
                    Err(Error::Corrupt { structure: Structure::Page, offset, .. })
                        if offset as usize == fx.offset(id) =>
                    {
                        tally.read_refused += 1
                    }
                    other => return Err(format!("verify_reads let the damaged page through: {other:?}")),
                }
            }
        }
        (_, None) if damage.is_empty() => {
            // Nothing reached the flipped byte: every page must still be exact.
            check_content(fx, &store).map_err(|e| format!("verify is clean but content changed ({at}): {e}"))?;
            tally.unreached += 1;
        }
        (_, None) => tally.verify_found += 1,
    }
    Ok(())
}
