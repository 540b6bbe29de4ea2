//! A compound file (CFB, "OLE2", MS-CFB) reader, enough to hash an MSI package the way its
//! Authenticode signature covers it ([`super::msi`]).
//!
//! Everything in the file is hostile: [`Compound::open`] checks the whole layout once, before
//! anything is hashed, and names what is wrong (which stream, which sector): the header's
//! fields, every FAT, mini FAT, directory and stream sector inside the file and used by one
//! chain only (so a loop in the FAT or two streams sharing sectors is an error, and hashing
//! reads each byte of the file at most once), stream sizes within the file, and a directory
//! tree without cycles, shared entries, malformed names or storages nested past
//! [`MAX_DEPTH`]. The FAT, the mini FAT and the directory are held in memory, each at most
//! [`MAX_TABLE`] bytes; stream content is read from the file as it is hashed.

use std::cmp::Ordering;
use std::io::{Read, Seek, SeekFrom};

/// The most bytes of FAT, of mini FAT and of directory read (each); osslsigncode reads FATs
/// below 16 MiB too (a 2 GiB file of 512-byte sectors).
pub const MAX_TABLE: u64 = 16 * 1024 * 1024;
/// The deepest storages are nested (MSI packages nest one or two).
pub const MAX_DEPTH: usize = 32;

const MAGIC: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const MAXREGSECT: u32 = 0xffff_fffa;
const ENDOFCHAIN: u32 = 0xffff_fffe;
const NOSTREAM: u32 = 0xffff_ffff;
const FREESECT: u32 = 0xffff_ffff;
const MINI_SECTOR: u64 = 64;
const MINI_CUTOFF: u64 = 4096;
const ENTRY_SIZE: usize = 128;
const HEADER_DIFAT: usize = 109;

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Storage,
    Stream,
    Root,
    /// Unallocated or unknown (type 0, 3, 4): in the tree, but neither hashed nor read.
    Other,
}

/// Where a stream's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Data {
    None,
    /// Regular sectors, in order.
    Sectors(Vec<u32>),
    /// Mini sectors of the mini stream, in order.
    Mini(Vec<u32>),
}

/// One directory entry of the tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name as stored: UTF-16LE with its terminating zero (the directory's name length).
    pub raw_name: Vec<u8>,
    pub kind: Kind,
    pub clsid: [u8; 16],
    pub state_bits: [u8; 4],
    pub created: [u8; 8],
    pub modified: [u8; 8],
    /// The size field's low four bytes, as stored (what the MSI pre-hash covers).
    pub size_low: [u8; 4],
    /// The stream's size (the low 32 bits in a version 3 file, as MS-CFB says to read it).
    pub size: u64,
    /// The entry's children (for the root and storages), as indices into the entries.
    pub children: Vec<usize>,
    data: Data,
}

impl Entry {
    /// The name for people: `\u{5}DigitalSignature`, escapes for control characters.
    pub fn name(&self) -> String {
        display_name(&self.raw_name)
    }
}

/// The name `raw` (UTF-16LE, its terminator included or not) for people.
pub fn display_name(raw: &[u8]) -> String {
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    char::decode_utf16(units)
        .map(|c| match c {
            Ok(c) if !c.is_control() => c.to_string(),
            Ok(c) => format!("\\u{{{:x}}}", u32::from(c)),
            Err(e) => format!("\\u{{{:x}}}", e.unpaired_surrogate()),
        })
        .collect()
}

/// The order in which the MSI digest takes a storage's children, as Windows and osslsigncode
/// do: the raw UTF-16LE names (terminator included) compared byte by byte, over the shorter
/// one's length; when one is a prefix of the other, the longer first. Byte order, not code
/// unit order: U+0100 (`00 01`) sorts before `A` (`41 00`), and case matters (`B` < `a`).
pub fn hash_order(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => b.len().cmp(&a.len()),
        other => other,
    }
}

/// A compound file's layout, checked.
#[derive(Debug)]
pub struct Compound {
    file_len: u64,
    sector_size: u64,
    /// The tree's entries; index 0 is the root.
    entries: Vec<Entry>,
    /// The mini stream's sectors (the root entry's stream), in order.
    mini_stream: Vec<u32>,
    /// Bytes of the file past the end of its last used sector (no chain reaches them).
    pub trailing: u64,
    /// Where the file holds bytes the layout says are free (no signature covers them), if it
    /// does: a FAT entry past the file's end, or a directory entry no storage reaches.
    pub hidden: Option<String>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_exact_at<R: Read + Seek>(
    r: &mut R,
    at: u64,
    buf: &mut [u8],
    file_len: u64,
    what: &str,
) -> Result<(), String> {
    if at
        .checked_add(buf.len() as u64)
        .is_none_or(|end| end > file_len)
    {
        return Err(format!(
            "{what} (offset {at}, {} bytes) lies past the end of the file ({file_len} bytes): \
             the file is truncated",
            buf.len()
        ));
    }
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(buf))
        .map_err(|e| format!("reading {what} at offset {at}: {e}"))
}

/// The FAT and what the chains walked so far have used.
struct Fat {
    file_len: u64,
    sector_size: u64,
    next: Vec<u32>,
    used: Vec<bool>,
}

impl Fat {
    /// Where sector `s` starts, once `needed` bytes of it are known to lie in the file.
    fn offset(&self, s: u32, needed: u64, what: &str) -> Result<u64, String> {
        let at = (u64::from(s) + 1) * self.sector_size;
        if at + needed > self.file_len {
            return Err(format!(
                "{what}: sector {s} (offset {at}) lies past the end of the file ({} bytes): the \
                 file is truncated",
                self.file_len
            ));
        }
        Ok(at)
    }

    /// Marks sector `s` as used by `what`.
    fn claim(&mut self, s: u32, what: &str) -> Result<(), String> {
        let Some(slot) = self.used.get_mut(s as usize) else {
            return Err(format!(
                "{what}: sector {s} is past the FAT's {} entries",
                self.next.len()
            ));
        };
        if *slot {
            return Err(format!(
                "{what}: sector {s} is used twice (a loop in the FAT, or sectors shared with \
                 another chain)"
            ));
        }
        *slot = true;
        Ok(())
    }

    /// The chain from `start`: `count` sectors when the size is known (the rest of the chain is
    /// not read), else up to its end, at most `limit` sectors. Each sector is claimed, and lies
    /// in the file as far as `len` bytes of the chain need.
    fn chain(
        &mut self,
        start: u32,
        count: Option<u64>,
        len: u64,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u32>, String> {
        let mut out = Vec::new();
        let mut s = start;
        loop {
            if count.is_some_and(|c| out.len() as u64 >= c) {
                break;
            }
            if s == ENDOFCHAIN && count.is_none() {
                break;
            }
            if s > MAXREGSECT {
                return Err(match count {
                    Some(c) => format!(
                        "{what}: its sector chain ends after {} of the {c} sectors its {len} \
                         bytes need (next sector {s:#010x})",
                        out.len()
                    ),
                    None => format!(
                        "{what}: its sector chain runs into a free or special sector \
                         ({s:#010x}) after {} sectors",
                        out.len()
                    ),
                });
            }
            if out.len() as u64 >= limit {
                return Err(format!("{what}: more than {limit} sectors"));
            }
            self.claim(s, what)?;
            let done = out.len() as u64 * self.sector_size;
            self.offset(s, self.sector_size.min(len.saturating_sub(done)), what)?;
            out.push(s);
            s = self.next[s as usize];
        }
        Ok(out)
    }

    /// Reads the whole sectors `chain` into one buffer.
    fn read_chain<R: Read + Seek>(
        &self,
        r: &mut R,
        chain: &[u32],
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let ss = usize::try_from(self.sector_size).unwrap_or(512);
        let mut out = vec![0u8; chain.len() * ss];
        for (i, &s) in chain.iter().enumerate() {
            let at = self.offset(s, self.sector_size, what)?;
            read_exact_at(r, at, &mut out[i * ss..(i + 1) * ss], self.file_len, what)?;
        }
        Ok(out)
    }
}

impl Compound {
    /// Reads and checks the compound file `r`'s header, FAT, mini FAT and directory tree.
    pub fn open<R: Read + Seek>(r: &mut R) -> Result<Self, String> {
        let file_len = r
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("the file's size: {e}"))?;
        let mut h = [0u8; 512];
        if file_len < 512 {
            return Err(format!(
                "not a compound file: {file_len} bytes, too short for its 512-byte header"
            ));
        }
        read_exact_at(r, 0, &mut h, file_len, "the header")?;
        if h[..8] != MAGIC {
            return Err("not a compound file (MSI): no D0 CF 11 E0 signature".into());
        }
        if u16_at(&h, 0x1c) != 0xfffe {
            return Err(format!(
                "the header's byte order is {:#06x}, not 0xFFFE",
                u16_at(&h, 0x1c)
            ));
        }
        let (major, shift) = (u16_at(&h, 0x1a), u16_at(&h, 0x1e));
        let sector_size: u64 = match (major, shift) {
            (3, 9) => 512,
            (4, 12) => 4096,
            _ => {
                return Err(format!(
                    "the header's version {major} with sector shift {shift} is not a compound \
                     file's (3 with 9, or 4 with 12)"
                ));
            }
        };
        if u16_at(&h, 0x20) != 6 {
            return Err(format!(
                "the header's mini sector shift is {}, not 6",
                u16_at(&h, 0x20)
            ));
        }
        if u64::from(u32_at(&h, 0x38)) != MINI_CUTOFF {
            return Err(format!(
                "the header's mini stream cutoff is {}, not 4096",
                u32_at(&h, 0x38)
            ));
        }
        let num_fat = u64::from(u32_at(&h, 0x2c));
        let first_dir = u32_at(&h, 0x30);
        let first_mini_fat = u32_at(&h, 0x3c);
        let num_mini_fat = u64::from(u32_at(&h, 0x40));
        let first_difat = u32_at(&h, 0x44);
        let num_difat = u64::from(u32_at(&h, 0x48));
        let in_file = file_len.saturating_sub(sector_size) / sector_size;
        for (n, what) in [
            (num_fat, "FAT"),
            (num_mini_fat, "mini FAT"),
            (num_difat, "DIFAT"),
        ] {
            if n * sector_size > MAX_TABLE {
                return Err(format!(
                    "the header claims {n} {what} sectors, more than the {} MiB read",
                    MAX_TABLE >> 20
                ));
            }
            if n > in_file {
                return Err(format!(
                    "the header claims {n} {what} sectors, but the file ({file_len} bytes) \
                     holds {in_file} sectors"
                ));
            }
        }
        let per_sector = sector_size / 4;
        let mut fat = Fat {
            file_len,
            sector_size,
            next: Vec::new(),
            used: vec![false; usize::try_from(num_fat * per_sector).unwrap_or(0)],
        };
        // Where the FAT's sectors are: 109 in the header, the rest in the DIFAT chain.
        let mut fat_sectors: Vec<u32> = (0..HEADER_DIFAT)
            .map(|i| u32_at(&h, 0x4c + 4 * i))
            .take(usize::try_from(num_fat).unwrap_or(0))
            .collect();
        let mut difat = first_difat;
        let mut difat_read = 0u64;
        while (fat_sectors.len() as u64) < num_fat {
            if difat_read >= num_difat || difat > MAXREGSECT {
                return Err(format!(
                    "the DIFAT ends after {} of the header's {num_fat} FAT sectors",
                    fat_sectors.len()
                ));
            }
            let what = format!("DIFAT sector {difat_read}");
            let mut buf = vec![0u8; usize::try_from(sector_size).unwrap_or(512)];
            let at = fat.offset(difat, sector_size, &what)?;
            read_exact_at(r, at, &mut buf, file_len, &what)?;
            fat.claim(difat, &what)?;
            let ids = usize::try_from(per_sector - 1).unwrap_or(0);
            let want = usize::try_from(num_fat).unwrap_or(0) - fat_sectors.len();
            fat_sectors.extend((0..ids.min(want)).map(|i| u32_at(&buf, 4 * i)));
            difat = u32_at(&buf, 4 * ids);
            difat_read += 1;
        }
        let mut next = Vec::with_capacity(fat.used.len());
        for (i, &s) in fat_sectors.iter().enumerate() {
            let what = format!("FAT sector {i}");
            if s > MAXREGSECT {
                return Err(format!("{what} is at {s:#010x}, not a sector"));
            }
            let at = fat.offset(s, sector_size, &what)?;
            fat.claim(s, &what)?;
            let mut buf = vec![0u8; usize::try_from(sector_size).unwrap_or(512)];
            read_exact_at(r, at, &mut buf, file_len, &what)?;
            next.extend(buf.chunks_exact(4).map(|c| u32_at(c, 0)));
        }
        fat.next = next;
        let limit = MAX_TABLE / sector_size;

        // The directory.
        let dir_chain = fat.chain(first_dir, None, u64::MAX, limit, "the directory")?;
        if dir_chain.is_empty() {
            return Err("the directory is empty (no root entry)".into());
        }
        let dir = fat.read_chain(r, &dir_chain, "the directory")?;
        let raw: Vec<&[u8]> = dir.chunks_exact(ENTRY_SIZE).collect();

        // The root entry and the mini stream.
        let root_raw = raw[0];
        if root_raw[0x42] != 5 {
            return Err(format!(
                "directory entry 0 is of type {}, not the root storage (5)",
                root_raw[0x42]
            ));
        }
        let size_of = |e: &[u8]| {
            let full = u64::from_le_bytes(e[0x78..0x80].try_into().unwrap_or([0; 8]));
            if sector_size == 512 {
                full & 0xffff_ffff
            } else {
                full
            }
        };
        let mini_len = size_of(root_raw);
        if mini_len > file_len {
            return Err(format!(
                "the mini stream claims {mini_len} bytes, more than the file's {file_len}"
            ));
        }
        let mini_stream = fat.chain(
            u32_at(root_raw, 0x74),
            Some(mini_len.div_ceil(sector_size)),
            mini_len,
            u64::MAX,
            "the mini stream",
        )?;
        let mini_fat_chain = if num_mini_fat == 0 {
            Vec::new()
        } else {
            fat.chain(first_mini_fat, None, u64::MAX, limit, "the mini FAT")?
        };
        let mini_fat: Vec<u32> = fat
            .read_chain(r, &mini_fat_chain, "the mini FAT")?
            .chunks_exact(4)
            .map(|c| u32_at(c, 0))
            .collect();
        let mut mini_used = vec![false; mini_fat.len()];

        // The tree, from the root, each entry reached once.
        let mut visited = vec![false; raw.len()];
        visited[0] = true;
        let mut entries: Vec<Entry> = Vec::new();
        let mut ids: Vec<usize> = Vec::new();
        // Entries are parsed as the tree is walked; storages' children after them.
        let mut pending: Vec<(usize, u32, usize)> = Vec::new(); // (entry index, child id, depth)
        entries.push(parse_entry(root_raw, 0, sector_size)?);
        ids.push(0);
        pending.push((0, u32_at(root_raw, 0x4c), 0));
        while let Some((parent, first, depth)) = pending.pop() {
            if depth > MAX_DEPTH {
                return Err(format!(
                    "storages are nested more than {MAX_DEPTH} deep (at \"{}\")",
                    entries[parent].name()
                ));
            }
            let mut stack = vec![first];
            let mut children = Vec::new();
            while let Some(id) = stack.pop() {
                if id == NOSTREAM {
                    continue;
                }
                let at = id as usize;
                let Some(e) = raw.get(at) else {
                    return Err(format!(
                        "storage \"{}\" refers to directory entry {id}, past the directory's {} \
                         entries",
                        entries[parent].name(),
                        raw.len()
                    ));
                };
                if visited[at] {
                    return Err(format!(
                        "directory entry {id} is reached twice (a cycle in the directory tree, \
                         under \"{}\")",
                        entries[parent].name()
                    ));
                }
                visited[at] = true;
                let entry = parse_entry(e, id, sector_size)?;
                stack.push(u32_at(e, 0x44));
                stack.push(u32_at(e, 0x48));
                let index = entries.len();
                if entry.kind == Kind::Storage {
                    pending.push((index, u32_at(e, 0x4c), depth + 1));
                }
                entries.push(entry);
                ids.push(at);
                children.push(index);
            }
            let mut names: Vec<&[u8]> = children
                .iter()
                .map(|&c| entries[c].raw_name.as_slice())
                .collect();
            names.sort_unstable();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!(
                    "two entries named \"{}\" in storage \"{}\"",
                    display_name(w[0]),
                    entries[parent].name()
                ));
            }
            entries[parent].children = children;
        }

        // Entries no storage reaches are free ones (MS-CFB 2.6.3: zeros, with NOSTREAM
        // siblings and child; wixl writes all zeros): anything else is data no signature
        // covers.
        let mut hidden = (0..raw.len())
            .find(|&i| !visited[i] && !is_free_entry(raw[i]))
            .map(|id| {
                format!(
                    "directory entry {id} is in no storage and is not a free entry (zeros): \
                     data hidden where no stream is"
                )
            });

        // Where each stream's bytes are.
        for (index, entry) in entries.iter_mut().enumerate().skip(1) {
            if entry.kind != Kind::Stream || entry.size == 0 {
                continue;
            }
            let what = format!("stream \"{}\"", entry.name());
            let e = raw[ids[index]];
            let start = u32_at(e, 0x74);
            if entry.size > file_len {
                return Err(format!(
                    "{what} claims {} bytes, more than the file's {file_len}",
                    entry.size
                ));
            }
            entry.data = if entry.size < MINI_CUTOFF {
                let count = entry.size.div_ceil(MINI_SECTOR);
                let mut out = Vec::new();
                let mut m = start;
                while (out.len() as u64) < count {
                    let Some(&following) = mini_fat.get(m as usize) else {
                        return Err(format!(
                            "{what}: its mini sector chain ends after {} of the {count} mini \
                             sectors its {} bytes need (next {m:#010x}, the mini FAT has {} \
                             entries)",
                            out.len(),
                            entry.size,
                            mini_fat.len()
                        ));
                    };
                    if (u64::from(m) + 1) * MINI_SECTOR > mini_len {
                        return Err(format!(
                            "{what}: mini sector {m} lies past the mini stream's {mini_len} bytes"
                        ));
                    }
                    if std::mem::replace(&mut mini_used[m as usize], true) {
                        return Err(format!(
                            "{what}: mini sector {m} is used twice (a loop in the mini FAT, or \
                             shared with another stream)"
                        ));
                    }
                    out.push(m);
                    m = following;
                }
                Data::Mini(out)
            } else {
                Data::Sectors(fat.chain(
                    start,
                    Some(entry.size.div_ceil(sector_size)),
                    entry.size,
                    u64::MAX,
                    &what,
                )?)
            };
        }
        // Entries for sectors past the file's end are free (MS-CFB 2.3; a chain into them was
        // found truncated above): nothing reads them, so anything else there is data no
        // signature covers (a file hidden at the end).
        let sectors = file_len.saturating_sub(sector_size).div_ceil(sector_size);
        if let Some((s, v)) = fat
            .next
            .iter()
            .enumerate()
            .skip(usize::try_from(sectors).unwrap_or(usize::MAX))
            .find(|&(_, &v)| v != FREESECT)
            && hidden.is_none()
        {
            hidden = Some(format!(
                "the FAT's entry for sector {s}, past the file's {sectors} sectors, is {v:#010x}, \
                 not free: data hidden where no stream is"
            ));
        }
        // What no chain reaches after the last used sector (data appended to the file).
        let last = fat.used.iter().rposition(|&u| u);
        let end = last.map_or(sector_size, |l| (l as u64 + 2) * sector_size);
        let trailing = file_len.saturating_sub(end);
        Ok(Self {
            file_len,
            sector_size,
            entries,
            mini_stream,
            trailing,
            hidden,
        })
    }

    /// The root storage.
    pub fn root(&self) -> &Entry {
        &self.entries[0]
    }

    pub fn entry(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    /// `storage`'s children in the MSI digest's order ([`hash_order`]).
    pub fn sorted_children(&self, storage: &Entry) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = storage.children.iter().map(|&i| &self.entries[i]).collect();
        out.sort_by(|a, b| hash_order(&a.raw_name, &b.raw_name));
        out
    }

    /// Feeds the content of the stream `entry` to `sink`, in pieces.
    pub fn read_stream<R: Read + Seek>(
        &self,
        r: &mut R,
        entry: &Entry,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), String> {
        let what = format!("stream \"{}\"", entry.name());
        let mut left = entry.size;
        match &entry.data {
            Data::None => {}
            Data::Sectors(chain) => {
                // Runs of consecutive sectors are read at once (up to 1 MiB).
                let mut buf = Vec::new();
                let mut i = 0;
                while i < chain.len() && left > 0 {
                    let mut run = 1;
                    while i + run < chain.len()
                        && u32::try_from(run)
                            .ok()
                            .and_then(|n| chain[i].checked_add(n))
                            == Some(chain[i + run])
                        && (run as u64 + 1) * self.sector_size <= 1 << 20
                    {
                        run += 1;
                    }
                    let n = left.min(run as u64 * self.sector_size);
                    buf.resize(usize::try_from(n).unwrap_or(0), 0);
                    let at = (u64::from(chain[i]) + 1) * self.sector_size;
                    read_exact_at(r, at, &mut buf, self.file_len, &what)?;
                    sink(&buf);
                    left -= n;
                    i += run;
                }
            }
            Data::Mini(chain) => {
                let mut buf = [0u8; 64];
                for &m in chain {
                    let offset = u64::from(m) * MINI_SECTOR;
                    let sector = usize::try_from(offset / self.sector_size).unwrap_or(usize::MAX);
                    let s = *self
                        .mini_stream
                        .get(sector)
                        .ok_or_else(|| format!("{what}: mini sector {m} past the mini stream"))?;
                    let at = (u64::from(s) + 1) * self.sector_size + offset % self.sector_size;
                    let n = usize::try_from(left.min(MINI_SECTOR)).unwrap_or(64);
                    read_exact_at(r, at, &mut buf[..n], self.file_len, &what)?;
                    sink(&buf[..n]);
                    left -= n as u64;
                }
            }
        }
        Ok(())
    }

    /// The content of the stream `entry`, at most `max` bytes of it.
    pub fn read_small<R: Read + Seek>(
        &self,
        r: &mut R,
        entry: &Entry,
        max: u64,
    ) -> Result<Vec<u8>, String> {
        if entry.size > max {
            return Err(format!(
                "stream \"{}\" has {} bytes, more than the {max} read",
                entry.name(),
                entry.size
            ));
        }
        let mut out = Vec::new();
        self.read_stream(r, entry, &mut |b| out.extend_from_slice(b))?;
        Ok(out)
    }
}

/// Whether `e` is a free directory entry: all zeros but its siblings and child, NOSTREAM (as
/// MS-CFB says) or zeros (as wixl writes them).
fn is_free_entry(e: &[u8]) -> bool {
    let links = &e[0x44..0x50];
    (links.iter().all(|&b| b == 0xff) || links.iter().all(|&b| b == 0))
        && e.iter()
            .enumerate()
            .all(|(i, &b)| (0x44..0x50).contains(&i) || b == 0)
}

/// Parses directory entry `id`.
fn parse_entry(e: &[u8], id: u32, sector_size: u64) -> Result<Entry, String> {
    let len = usize::from(u16_at(e, 0x40));
    if !(2..=64).contains(&len) || len % 2 != 0 {
        return Err(format!(
            "directory entry {id}: a name length of {len} bytes (2 to 64, even)"
        ));
    }
    let name = &e[..len];
    let units: Vec<u16> = name.chunks_exact(2).map(|c| u16_at(c, 0)).collect();
    if units.last() != Some(&0) || units[..units.len() - 1].contains(&0) {
        return Err(format!(
            "directory entry {id}: its name \"{}\" is not one zero-terminated string",
            display_name(name)
        ));
    }
    let kind = match e[0x42] {
        1 => Kind::Storage,
        2 => Kind::Stream,
        5 if id == 0 => Kind::Root,
        5 => {
            return Err(format!(
                "directory entry {id} (\"{}\") claims to be a second root",
                display_name(name)
            ));
        }
        _ => Kind::Other,
    };
    let full = u64::from_le_bytes(e[0x78..0x80].try_into().unwrap_or([0; 8]));
    let arr = |at: usize| -> [u8; 16] { e[at..at + 16].try_into().unwrap_or([0; 16]) };
    Ok(Entry {
        raw_name: name.to_vec(),
        kind,
        clsid: arr(0x50),
        state_bits: e[0x60..0x64].try_into().unwrap_or([0; 4]),
        created: e[0x64..0x6c].try_into().unwrap_or([0; 8]),
        modified: e[0x6c..0x74].try_into().unwrap_or([0; 8]),
        size_low: e[0x78..0x7c].try_into().unwrap_or([0; 4]),
        size: if sector_size == 512 {
            full & 0xffff_ffff
        } else {
            full
        },
        children: Vec::new(),
        data: Data::None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    #[test]
    fn names_sort_by_their_utf16le_bytes() {
        let mut names = [
            utf16("a"),
            utf16("B"),
            utf16("AB"),
            utf16("A"),
            utf16("\u{100}"),
            utf16("\u{3801}"),
            utf16("\u{3900}"),
            utf16("\u{5}SummaryInformation"),
        ];
        names.sort_by(|a, b| hash_order(a, b));
        let shown: Vec<String> = names.iter().map(|n| display_name(n)).collect();
        assert_eq!(
            shown,
            [
                "\u{100}",
                "\u{3900}",
                "\u{3801}",
                "\\u{5}SummaryInformation",
                "A",
                "AB",
                "B",
                "a"
            ]
        );
        // One a prefix of the other (no terminator in the compared bytes): the longer first.
        assert_eq!(hash_order(b"A\0B\0", b"A\0"), Ordering::Less);
        assert_eq!(hash_order(b"A\0", b"A\0"), Ordering::Equal);
    }

    /// A small version 3 compound file: header, one FAT sector, one directory sector, a mini
    /// FAT sector, the mini stream, and a regular stream; built field by field so tests can
    /// break any of them.
    pub(crate) struct Built {
        pub bytes: Vec<u8>,
    }

    pub(crate) const FAT_AT: usize = 512;
    pub(crate) const DIR_AT: usize = 1024;
    const SECTORS: usize = 16;

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Directory entry `i`'s offset.
    pub(crate) fn entry_at(i: usize) -> usize {
        DIR_AT + i * ENTRY_SIZE
    }

    /// Root (0) with children: "big" stream (1, 5000 bytes in sectors 4..14), storage "sub" (2)
    /// holding "small" (3, 100 bytes in the mini stream); sectors: 0 FAT, 1 directory, 2 mini
    /// FAT, 3 mini stream, 4.. big.
    pub(crate) fn build() -> Built {
        let mut b = vec![0u8; 512 + SECTORS * 512];
        b[..8].copy_from_slice(&MAGIC);
        b[0x18..0x1a].copy_from_slice(&0x3eu16.to_le_bytes());
        b[0x1a..0x1c].copy_from_slice(&3u16.to_le_bytes());
        b[0x1c..0x1e].copy_from_slice(&0xfffeu16.to_le_bytes());
        b[0x1e..0x20].copy_from_slice(&9u16.to_le_bytes());
        b[0x20..0x22].copy_from_slice(&6u16.to_le_bytes());
        put32(&mut b, 0x2c, 1);
        put32(&mut b, 0x30, 1);
        put32(&mut b, 0x38, 4096);
        put32(&mut b, 0x3c, 2);
        put32(&mut b, 0x40, 1);
        put32(&mut b, 0x44, ENDOFCHAIN);
        put32(&mut b, 0x48, 0);
        for i in 0..HEADER_DIFAT {
            put32(&mut b, 0x4c + 4 * i, NOSTREAM);
        }
        put32(&mut b, 0x4c, 0);
        // FAT.
        let fat = |b: &mut Vec<u8>, s: usize, v: u32| put32(b, FAT_AT + 4 * s, v);
        for s in 0..128 {
            fat(&mut b, s, NOSTREAM);
        }
        fat(&mut b, 0, 0xffff_fffd);
        fat(&mut b, 1, ENDOFCHAIN);
        fat(&mut b, 2, ENDOFCHAIN);
        fat(&mut b, 3, ENDOFCHAIN);
        for s in 4..13 {
            fat(&mut b, s, u32::try_from(s + 1).expect("small"));
        }
        fat(&mut b, 13, ENDOFCHAIN);
        // Directory.
        let entry = |b: &mut Vec<u8>,
                     i: usize,
                     name: &str,
                     kind: u8,
                     kids: [u32; 3],
                     start: u32,
                     size: u64| {
            let at = entry_at(i);
            let n = utf16(name);
            b[at..at + n.len()].copy_from_slice(&n);
            b[at + 0x40..at + 0x42]
                .copy_from_slice(&u16::try_from(n.len()).expect("short").to_le_bytes());
            b[at + 0x42] = kind;
            put32(b, at + 0x44, kids[0]);
            put32(b, at + 0x48, kids[1]);
            put32(b, at + 0x4c, kids[2]);
            b[at + 0x50] = u8::try_from(i).expect("small") + 0xa0;
            put32(b, at + 0x74, start);
            b[at + 0x78..at + 0x80].copy_from_slice(&size.to_le_bytes());
        };
        entry(&mut b, 0, "Root Entry", 5, [NOSTREAM, NOSTREAM, 1], 3, 128);
        entry(&mut b, 1, "big", 2, [NOSTREAM, 2, NOSTREAM], 4, 5000);
        entry(&mut b, 2, "sub", 1, [NOSTREAM, NOSTREAM, 3], 0, 0);
        entry(
            &mut b,
            3,
            "small",
            2,
            [NOSTREAM, NOSTREAM, NOSTREAM],
            0,
            100,
        );
        // Mini FAT: mini sectors 0 -> 1 -> end.
        put32(&mut b, 512 + 2 * 512, 1);
        put32(&mut b, 512 + 2 * 512 + 4, ENDOFCHAIN);
        for i in 2..128 {
            put32(&mut b, 512 + 2 * 512 + 4 * i, NOSTREAM);
        }
        for (i, byte) in b[512 + 3 * 512..512 + 3 * 512 + 100].iter_mut().enumerate() {
            *byte = u8::try_from(i).expect("small");
        }
        for (i, byte) in b[512 + 4 * 512..512 + 4 * 512 + 5000]
            .iter_mut()
            .enumerate()
        {
            *byte = u8::try_from(i % 251).expect("small");
        }
        Built { bytes: b }
    }

    fn content(c: &Compound, bytes: &[u8], e: &Entry) -> Vec<u8> {
        c.read_small(&mut Cursor::new(bytes), e, 1 << 20)
            .expect("read")
    }

    #[test]
    fn a_small_compound_file_is_read() {
        let b = build();
        let c = Compound::open(&mut Cursor::new(&b.bytes)).expect("open");
        let root = c.root();
        assert_eq!(root.kind, Kind::Root);
        let kids = c.sorted_children(root);
        let names: Vec<String> = kids.iter().map(|e| e.name()).collect();
        assert_eq!(names, ["big", "sub"]);
        let big = content(&c, &b.bytes, kids[0]);
        assert_eq!(big.len(), 5000);
        assert_eq!(big[..], b.bytes[2560..2560 + 5000]);
        let sub = c.sorted_children(kids[1]);
        assert_eq!(sub[0].name(), "small");
        assert_eq!(sub[0].clsid[0], 0xa3);
        let small = content(&c, &b.bytes, sub[0]);
        assert_eq!(small, (0..100u8).collect::<Vec<_>>());
    }

    fn open_err(bytes: &[u8]) -> String {
        Compound::open(&mut Cursor::new(bytes)).expect_err("a broken file")
    }

    #[test]
    fn broken_files_give_errors_that_say_what_is_wrong() {
        let good = build().bytes;
        let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
        // A loop in the FAT: big's chain 4 -> ... -> 8 -> 4.
        let mut b = good.clone();
        put32(&mut b, FAT_AT + 4 * 8, 4);
        cases.push((b, "stream \"big\": sector 4 is used twice"));
        // Two streams sharing sectors: "small" made big, starting inside big's chain.
        let mut b = good.clone();
        put32(&mut b, entry_at(3) + 0x74, 6);
        b[entry_at(3) + 0x78..entry_at(3) + 0x80].copy_from_slice(&4096u64.to_le_bytes());
        cases.push((b, "sector 6 is used twice"));
        // A directory cycle: sub's child is the root's child.
        let mut b = good.clone();
        put32(&mut b, entry_at(3) + 0x48, 1);
        cases.push((b, "directory entry 1 is reached twice"));
        // A child past the directory.
        let mut b = good.clone();
        put32(&mut b, entry_at(2) + 0x4c, 4000);
        cases.push((
            b,
            "refers to directory entry 4000, past the directory's 4 entries",
        ));
        // A size past the end of the file.
        let mut b = good.clone();
        b[entry_at(1) + 0x78..entry_at(1) + 0x80].copy_from_slice(&0x7fff_0000u64.to_le_bytes());
        cases.push((
            b,
            "stream \"big\" claims 2147418112 bytes, more than the file's",
        ));
        // A chain shorter than the size needs.
        let mut b = good.clone();
        put32(&mut b, FAT_AT + 4 * 6, ENDOFCHAIN);
        cases.push((b, "ends after 3 of the 10 sectors its 5000 bytes need"));
        // Truncated in the middle of big.
        cases.push((good[..6000].to_vec(), "the file is truncated"));
        cases.push((good[..300].to_vec(), "too short for its 512-byte header"));
        // A FAT count the file cannot hold, and a huge one.
        let mut b = good.clone();
        put32(&mut b, 0x2c, 1000);
        cases.push((b, "claims 1000 FAT sectors, but the file"));
        let mut b = good.clone();
        put32(&mut b, 0x2c, 0x00ff_ffff);
        cases.push((b, "more than the 16 MiB read"));
        // A directory chain looping on itself.
        let mut b = good.clone();
        put32(&mut b, FAT_AT + 4, 1);
        cases.push((b, "the directory: sector 1 is used twice"));
        // A mini FAT loop.
        let mut b = good.clone();
        put32(&mut b, 512 + 2 * 512 + 4, 0);
        b[entry_at(3) + 0x78..entry_at(3) + 0x80].copy_from_slice(&200u64.to_le_bytes());
        cases.push((b, "mini sector 0 is used twice"));
        // A name without its terminator, and a bad length.
        let mut b = good.clone();
        b[entry_at(1) + 0x40] = 4;
        cases.push((b, "is not one zero-terminated string"));
        let mut b = good.clone();
        b[entry_at(1) + 0x40] = 65;
        cases.push((b, "a name length of 65 bytes"));
        // Two entries of one name.
        let mut b = good.clone();
        b[entry_at(2)..entry_at(2) + 8].copy_from_slice(&utf16("big"));
        cases.push((b, "two entries named \"big\""));
        let mut b = good.clone();
        b[0] = b'M';
        cases.push((b, "not a compound file"));
        let mut b = good.clone();
        b[0x1e] = 12;
        cases.push((b, "sector shift 12"));
        for (bytes, says) in cases {
            let e = open_err(&bytes);
            assert!(e.contains(says), "wanted {says:?}, got {e:?}");
        }
    }

    #[test]
    fn storages_nested_too_deep_are_refused() {
        // A directory of 40 storages, each the only child of the previous.
        let mut b = build().bytes;
        // 40 entries need 10 directory sectors: sectors 4..14 become the directory.
        for s in 0..16usize {
            put32(&mut b, FAT_AT + 4 * s, NOSTREAM);
        }
        put32(&mut b, FAT_AT, 0xffff_fffd);
        put32(&mut b, FAT_AT + 4, 4);
        for s in 4..13 {
            put32(&mut b, FAT_AT + 4 * s, u32::try_from(s + 1).expect("small"));
        }
        put32(&mut b, FAT_AT + 4 * 13, ENDOFCHAIN);
        put32(&mut b, 0x3c, ENDOFCHAIN);
        put32(&mut b, 0x40, 0);
        let at = |i: usize| {
            if i < 4 {
                entry_at(i)
            } else {
                512 + 4 * 512 + (i - 4) * ENTRY_SIZE
            }
        };
        for i in 0..44usize {
            let e = at(i);
            b[e..e + ENTRY_SIZE].fill(0);
            let name = if i == 0 {
                utf16("Root Entry")
            } else {
                utf16(&format!("s{i}"))
            };
            b[e..e + name.len()].copy_from_slice(&name);
            b[e + 0x40] = u8::try_from(name.len()).expect("short");
            b[e + 0x42] = if i == 0 { 5 } else { 1 };
            put32(&mut b, e + 0x44, NOSTREAM);
            put32(&mut b, e + 0x48, NOSTREAM);
            put32(
                &mut b,
                e + 0x4c,
                if i < 43 {
                    u32::try_from(i + 1).expect("small")
                } else {
                    NOSTREAM
                },
            );
        }
        let e = open_err(&b);
        assert!(e.contains("nested more than 32 deep"), "{e}");
    }
}
