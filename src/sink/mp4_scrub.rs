//! Strips what the MP4 muxer writes beyond the video itself: the wall-clock creation and
//! modification times in `mvhd`, `tkhd` and `mdhd` are zeroed (the "unset" value), and user-data
//! boxes (`udta`: encoder name, title, location, …) are turned into `free` boxes, which every
//! reader skips. Sizes and offsets do not change, so the file stays valid.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Box header: (total size including header, header length, 4-char type).
fn parse_header(buf: &[u8], at: usize, end: usize) -> Option<(usize, usize, [u8; 4])> {
    let head = buf.get(at..at + 8)?;
    let size32 = u32::from_be_bytes(head[0..4].try_into().ok()?) as usize;
    let kind: [u8; 4] = head[4..8].try_into().ok()?;
    let (size, header) = match size32 {
        0 => (end - at, 8),
        1 => {
            let size64 = u64::from_be_bytes(buf.get(at + 8..at + 16)?.try_into().ok()?);
            (usize::try_from(size64).ok()?, 16)
        }
        n => (n, 8),
    };
    (size >= header && at + size <= end).then_some((size, header, kind))
}

/// Scrubs the boxes inside `buf[start..end]`, recursing into containers on the path to the
/// timestamped boxes.
fn scrub_children(buf: &mut [u8], start: usize, end: usize) -> usize {
    let mut changed = 0;
    let mut at = start;
    while let Some((size, header, kind)) = parse_header(buf, at, end) {
        let body = at + header;
        match &kind {
            b"trak" | b"mdia" => changed += scrub_children(buf, body, at + size),
            b"mvhd" | b"tkhd" | b"mdhd" => changed += zero_times(&mut buf[body..at + size]),
            b"udta" | b"meta" => {
                buf[at + 4..at + 8].copy_from_slice(b"free");
                changed += 1;
            }
            _ => {}
        }
        at += size;
    }
    changed
}

/// Zeroes creation and modification time of a full box body (version, flags, times…).
fn zero_times(body: &mut [u8]) -> usize {
    let width = if body.first() == Some(&1) { 8 } else { 4 };
    match body.get_mut(4..4 + 2 * width) {
        Some(times) => {
            times.fill(0);
            1
        }
        None => 0,
    }
}

/// Scrubs the `moov` box of the MP4 file in place. Returns how many boxes were changed.
pub fn scrub_mp4_metadata(file: &mut File) -> io::Result<usize> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8])?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let size = match size32 {
            0 => len - at,
            1 => {
                file.read_exact(&mut head[8..16])?;
                u64::from_be_bytes(head[8..16].try_into().map_err(io::Error::other)?)
            }
            n => u64::from(n),
        };
        if size < 8 || at + size > len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed MP4 box"));
        }
        if &head[4..8] == b"moov" {
            let mut moov = vec![0u8; usize::try_from(size).map_err(io::Error::other)?];
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(&mut moov)?;
            let header = if size32 == 1 { 16 } else { 8 };
            let end = moov.len();
            let changed = scrub_children(&mut moov, header, end);
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&moov)?;
            return Ok(changed);
        }
        at += size;
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "no moov box in MP4 output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_box(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(payload);
        boxed(kind, &body)
    }

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn zeroes_times_and_frees_user_data() {
        let mvhd = full_box(b"mvhd", 0, &[0xAA; 20]);
        let tkhd = full_box(b"tkhd", 1, &[0xBB; 24]);
        let mdhd = full_box(b"mdhd", 0, &[0xCC; 16]);
        let udta = boxed(b"udta", b"\0\0\0\x0c\xa9too x264");
        let trak = boxed(b"trak", &[tkhd, boxed(b"mdia", &mdhd)].concat());
        let moov = boxed(b"moov", &[mvhd, trak, udta].concat());
        let file_bytes = [boxed(b"ftyp", b"isom"), boxed(b"mdat", &[1, 2, 3]), moov].concat();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&file_bytes).unwrap();

        assert_eq!(scrub_mp4_metadata(&mut file).unwrap(), 4);

        let mut out = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), file_bytes.len());
        let find = |pat: &[u8]| out.windows(pat.len()).position(|w| w == pat).unwrap();
        let mvhd_at = find(b"mvhd");
        assert_eq!(&out[mvhd_at + 8..mvhd_at + 16], &[0; 8], "mvhd v0 times");
        assert_eq!(out[mvhd_at + 16], 0xAA, "beyond the times is untouched");
        let tkhd_at = find(b"tkhd");
        assert_eq!(&out[tkhd_at + 8..tkhd_at + 24], &[0; 16], "tkhd v1 times");
        let mdhd_at = find(b"mdhd");
        assert_eq!(&out[mdhd_at + 8..mdhd_at + 16], &[0; 8], "mdhd times inside mdia");
        assert!(out.windows(4).all(|w| w != b"udta"), "udta renamed");
        assert_eq!(&out[..16], &file_bytes[..16], "boxes before moov untouched");
    }

    #[test]
    fn refuses_a_file_without_moov() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&boxed(b"ftyp", b"isom")).unwrap();
        assert!(scrub_mp4_metadata(&mut file).is_err());
    }
}
