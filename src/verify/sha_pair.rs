//! SHA-256 of two independent streams at once, interleaved on one core.
//!
//! One SHA-256 stream is a chain of dependent rounds: with the SHA extensions a core waits on
//! each `sha256rnds2` before the next. Two streams interleaved fill those waits, so one core
//! hashes two files faster than it hashes them one after the other (measured 1.2x on the Xeon
//! these notes were written on; more on CPUs with a longer round latency). Whether it pays is
//! measured per machine ([`super::hash::calibration`]), not assumed.
//!
//! The kernel is safe Rust on `core::arch` intrinsics; the one `unsafe` is calling it, after
//! the CPU said it has the instructions. Everything else (single streams, padding) is the
//! `sha2` crate's own compression function, and a CPU without the SHA extensions gets that for
//! both streams.

/// Whether this CPU runs the interleaved kernel (x86-64 with the SHA extensions).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The SHA-256 initial state.
pub const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Compresses `a` into `sa` and `b` into `sb`; both must hold the same number of blocks (the
/// shorter decides; the caller passes equal runs).
pub fn compress2(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[[u8; 64]], b: &[[u8; 64]]) {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if available() {
        #[expect(
            unsafe_code,
            reason = "calling a #[target_feature] function, after the CPU reported those features"
        )]
        // SAFETY: `available()` checked at run time that this CPU has sha, sse4.1 and ssse3
        // (sse2 is part of x86-64), the only requirement of calling a safe #[target_feature] fn.
        unsafe {
            ni::compress2(sa, sb, &a[..n], &b[..n]);
        }
        return;
    }
    sha2::block_api::compress256(sa, &a[..n]);
    sha2::block_api::compress256(sb, &b[..n]);
}

/// One stream: `blocks` into `state`.
pub fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    sha2::block_api::compress256(state, blocks);
}

/// Pads the last `tail` bytes (fewer than 64) of a message of `total` bytes and returns the
/// digest.
pub fn finish(mut state: [u32; 8], tail: &[u8], total: u64) -> [u8; 32] {
    debug_assert!(tail.len() < 64);
    let mut last = [0u8; 128];
    let used = tail.len().min(63);
    last[..used].copy_from_slice(&tail[..used]);
    last[used] = 0x80;
    let blocks = if used < 56 { 1 } else { 2 };
    let end = blocks * 64;
    last[end - 8..end].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    let (chunks, _) = last[..end].as_chunks::<64>();
    sha2::block_api::compress256(&mut state, chunks);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod ni {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_set_epi32, _mm_set_epi64x,
        _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi8,
        _mm_shuffle_epi32,
    };

    const K: [u32; 64] = [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ];

    /// The state as the instructions want it: ABEF and CDGH.
    #[derive(Clone, Copy)]
    struct Lane {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn load(s: &[u32; 8]) -> Lane {
        let dcba: __m128i = bytemuck::cast([s[0], s[1], s[2], s[3]]);
        let hgfe: __m128i = bytemuck::cast([s[4], s[5], s[6], s[7]]);
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        Lane {
            abef: _mm_alignr_epi8(cdab, efgh, 8),
            cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
        }
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn store(l: Lane, s: &mut [u32; 8]) {
        let feba = _mm_shuffle_epi32(l.abef, 0x1B);
        let dchg = _mm_shuffle_epi32(l.cdgh, 0xB1);
        let dcba: [u32; 4] = bytemuck::cast(_mm_blend_epi16(feba, dchg, 0xF0));
        let hgfe: [u32; 4] = bytemuck::cast(_mm_alignr_epi8(dchg, feba, 8));
        s[..4].copy_from_slice(&dcba);
        s[4..].copy_from_slice(&hgfe);
    }

    /// A block's 16 big-endian words, four to a vector.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn words(block: &[u8; 64]) -> [__m128i; 4] {
        let swap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203);
        let raw: [__m128i; 4] = bytemuck::cast(*block);
        raw.map(|w| _mm_shuffle_epi8(w, swap))
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[expect(
        clippy::cast_possible_wrap,
        reason = "the round constants are bit patterns; the intrinsic takes them as i32"
    )]
    fn rounds4(r: usize, l: &mut Lane, w: __m128i) {
        let k = _mm_set_epi32(
            K[4 * r + 3] as i32,
            K[4 * r + 2] as i32,
            K[4 * r + 1] as i32,
            K[4 * r] as i32,
        );
        let t1 = _mm_add_epi32(w, k);
        l.cdgh = _mm_sha256rnds2_epu32(l.cdgh, l.abef, t1);
        let t2 = _mm_shuffle_epi32(t1, 0x0E);
        l.abef = _mm_sha256rnds2_epu32(l.abef, l.cdgh, t2);
    }

    /// The next four message words, in place of `w[i]`.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn schedule(w: &mut [__m128i; 4], i: usize) -> __m128i {
        let t = _mm_add_epi32(
            _mm_sha256msg1_epu32(w[i], w[(i + 1) % 4]),
            _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4),
        );
        w[i] = _mm_sha256msg2_epu32(t, w[(i + 3) % 4]);
        w[i]
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress2(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[[u8; 64]], b: &[[u8; 64]]) {
        let mut la = load(sa);
        let mut lb = load(sb);
        for (ba, bb) in a.iter().zip(b) {
            let (pa, pb) = (la, lb);
            let mut wa = words(ba);
            let mut wb = words(bb);
            for i in 0..4 {
                rounds4(i, &mut la, wa[i]);
                rounds4(i, &mut lb, wb[i]);
            }
            for r in 1..4 {
                for i in 0..4 {
                    let xa = schedule(&mut wa, i);
                    let xb = schedule(&mut wb, i);
                    rounds4(4 * r + i, &mut la, xa);
                    rounds4(4 * r + i, &mut lb, xb);
                }
            }
            la = Lane {
                abef: _mm_add_epi32(la.abef, pa.abef),
                cdgh: _mm_add_epi32(la.cdgh, pa.cdgh),
            };
            lb = Lane {
                abef: _mm_add_epi32(lb.abef, pb.abef),
                cdgh: _mm_add_epi32(lb.cdgh, pb.cdgh),
            };
        }
        store(la, sa);
        store(lb, sb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn digest_pair(a: &[u8], b: &[u8]) -> ([u8; 32], [u8; 32]) {
        let (ca, ta) = a.as_chunks::<64>();
        let (cb, tb) = b.as_chunks::<64>();
        let n = ca.len().min(cb.len());
        let (mut sa, mut sb) = (H0, H0);
        compress2(&mut sa, &mut sb, &ca[..n], &cb[..n]);
        compress(&mut sa, &ca[n..]);
        compress(&mut sb, &cb[n..]);
        (
            finish(sa, ta, a.len() as u64),
            finish(sb, tb, b.len() as u64),
        )
    }

    /// Every length around the padding boundaries, each paired with a different one, against
    /// the sha2 crate (and two published vectors).
    #[test]
    fn two_interleaved_streams_agree_with_sha2_at_every_length() {
        let data: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        for len in (0..200).chain([511, 512, 513, 1000, 4095, 4096]) {
            let other = 4096 - len;
            let (a, b) = digest_pair(&data[..len], &data[..other]);
            assert_eq!(
                a,
                <[u8; 32]>::from(sha2::Sha256::digest(&data[..len])),
                "{len}"
            );
            assert_eq!(
                b,
                <[u8; 32]>::from(sha2::Sha256::digest(&data[..other])),
                "{other}"
            );
        }
        let (abc, empty) = digest_pair(b"abc", b"");
        assert_eq!(
            crate::hex(&abc),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            crate::hex(&empty),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
