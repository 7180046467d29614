//! Bit operations on free-map leaves (bit set = sector in use, LSB first).

/// Sets (`used`) or clears bits `[from, to)`.
pub(crate) fn set_range(bits: &mut [u8], from: u64, to: u64, used: bool) {
    let (mut i, to) = (from as usize, to as usize);
    while i < to {
        if i % 8 == 0 && i + 8 <= to {
            let whole = (to - i) / 8;
            bits[i / 8..i / 8 + whole].fill(if used { 0xFF } else { 0 });
            i += whole * 8;
            continue;
        }
        let mask = 1u8 << (i % 8);
        if used {
            bits[i / 8] |= mask;
        } else {
            bits[i / 8] &= !mask;
        }
        i += 1;
    }
}

/// Zero bits in `[from, to)`.
pub(crate) fn count_free_range(bits: &[u8], from: u64, to: u64) -> u64 {
    let (from, to) = (from as usize, to as usize);
    let mut n = 0u64;
    let mut i = from;
    while i < to {
        if i % 8 == 0 && i + 8 <= to {
            let whole = (to - i) / 8;
            n += count_free(&bits[i / 8..i / 8 + whole]);
            i += whole * 8;
            continue;
        }
        n += u64::from(bits[i / 8] & (1 << (i % 8)) == 0);
        i += 1;
    }
    n
}

/// Zero bits in `bits`.
pub(crate) fn count_free(bits: &[u8]) -> u64 {
    let words = bits.chunks_exact(8);
    let tail: u64 = words.remainder().iter().map(|b| b.count_zeros() as u64).sum();
    tail + words.map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")).count_zeros() as u64).sum::<u64>()
}

/// True when every bit of `[from, from + n)` is clear.
pub(crate) fn all_free(bits: &[u8], from: u64, n: u64) -> bool {
    let (from, n) = (from as usize, n as usize);
    if from % 8 == 0 && n % 8 == 0 {
        return bits[from / 8..(from + n) / 8].iter().all(|&b| b == 0);
    }
    (from..from + n).all(|i| bits[i / 8] & (1 << (i % 8)) == 0)
}

/// First `k ≥ start` with `k < count` such that the `unit` bits of page `k` are clear.
pub(crate) fn first_free_unit(bits: &[u8], start: u64, count: u64, unit: u64) -> Option<u64> {
    if unit == 8 {
        let s = start as usize;
        return bits[s..count as usize].iter().position(|&b| b == 0).map(|p| (s + p) as u64);
    }
    (start..count).find(|&k| all_free(bits, k * unit, unit))
}

/// True when the `unit` bits of unit `k` are clear.
#[inline]
pub(crate) fn unit_free(bits: &[u8], k: u64, unit: u64) -> bool {
    if unit == 8 { bits[k as usize] == 0 } else { all_free(bits, k * unit, unit) }
}

/// How many units from `start` (before `end`) are free, counted until the
/// first unit with a bit in use.
pub(crate) fn free_units_from(bits: &[u8], start: u64, end: u64, unit: u64) -> u64 {
    if start >= end {
        return 0;
    }
    if unit == 8 {
        // A byte per unit: count zero bytes a word at a time.
        let bytes = &bits[start as usize..end as usize];
        let mut n = 0usize;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if v != 0 {
                return (n + v.trailing_zeros() as usize / 8) as u64;
            }
            n += 8;
        }
        return (n + words.remainder().iter().take_while(|&&b| b == 0).count()) as u64;
    }
    (start..end).take_while(|&k| all_free(bits, k * unit, unit)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_set_and_clear() {
        let mut b = vec![0u8; 8];
        set_range(&mut b, 3, 45, true);
        assert_eq!(count_free(&b), 64 - 42);
        assert_eq!(count_free_range(&b, 0, 64), 64 - 42);
        assert_eq!(count_free_range(&b, 2, 10), 1);
        assert!(all_free(&b, 0, 3));
        assert!(!all_free(&b, 0, 4));
        assert!(all_free(&b, 45, 19));
        set_range(&mut b, 8, 16, false);
        assert!(all_free(&b, 8, 8));
        assert_eq!(first_free_unit(&b, 0, 8, 8), Some(1));
        assert_eq!(first_free_unit(&b, 2, 8, 8), Some(6));
        assert_eq!(first_free_unit(&b, 0, 32, 2), Some(0));
        assert_eq!(first_free_unit(&b, 1, 32, 2), Some(4));
        assert_eq!(free_units_from(&b, 0, 32, 2), 1);
        assert_eq!(free_units_from(&b, 4, 32, 2), 4);
        assert_eq!(free_units_from(&b, 3, 32, 2), 0);
        assert_eq!(free_units_from(&b, 23, 32, 2), 9);
        assert_eq!(free_units_from(&b, 23, 30, 2), 7);
    }

    #[test]
    fn free_bytes_are_counted_across_words() {
        let mut b = vec![0u8; 40];
        b[21] = 0x10;
        assert_eq!(free_units_from(&b, 0, 40, 8), 21);
        assert_eq!(free_units_from(&b, 3, 40, 8), 18);
        assert_eq!(free_units_from(&b, 3, 10, 8), 7);
        assert_eq!(free_units_from(&b, 21, 40, 8), 0);
        assert_eq!(free_units_from(&b, 22, 40, 8), 18);
        assert_eq!(free_units_from(&b, 22, 22, 8), 0);
    }
}
