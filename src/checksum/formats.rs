//! Offline checksum verification for vendor token formats.
//!
//! Every function takes the candidate token bytes (exactly the token, no
//! surrounding text) and returns:
//! * `None`         - the input does not have the shape this checksum applies to;
//! * `Some(true)`   - shape matches and the embedded checksum is correct;
//! * `Some(false)`  - shape matches but the checksum is wrong (typo, placeholder,
//!   fabricated or truncated token).
//!
//! All CRC32s are the standard IEEE/zlib CRC-32 (`crc32fast::hash`).
//! Dependencies: `crc32fast = "1"`. Bech32 is implemented inline (about 30 lines).

/// GMP-order base62 alphabet used by GitHub and npm: digits, then `A-Z`, then `a-z`.
const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// Bech32 data alphabet (BIP173), uppercase form as used by age secret keys.
const BECH32_UPPER: &[u8; 32] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

/// Fixed-width big-endian base-N encoding, left-padded with the zero digit.
fn encode_fixed<const N: usize>(mut n: u32, alphabet: &[u8]) -> [u8; N] {
    let base = alphabet.len() as u32;
    let mut out = [alphabet[0]; N];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(n % base) as usize];
        n /= base;
    }
    out
}

/// Parse exactly 8 hex digits (either case) as a big-endian u32.
fn parse_hex_u32(hex: &[u8]) -> Option<u32> {
    if hex.len() != 8 {
        return None;
    }
    let mut v = 0u32;
    for &c in hex {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

fn is_base62(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_alphanumeric)
}

fn is_base36_lower(b: &[u8]) -> bool {
    b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
}

fn is_base64url(b: &[u8]) -> bool {
    b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// `<entropy><6 base62 chars of CRC32(entropy)>`, shared by GitHub and npm.
fn base62_crc32_tail(body: &[u8]) -> bool {
    let (data, sum) = body.split_at(body.len() - 6);
    encode_fixed::<6>(crc32fast::hash(data), B62) == *sum
}

/// GitHub classic tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`.
///
/// Format: `<prefix>_<entropy><checksum>`; the usual body is 30 random base62
/// chars + 6 checksum chars (40 chars total). The checksum is CRC32 of the
/// entropy chars only (ASCII bytes; prefix and `_` NOT included), written in
/// base62 with alphabet `0-9A-Za-z` (GMP order) and left-padded with `'0'` to
/// 6 chars. Refresh tokens (`ghr_`) can have a longer body (76 chars seen);
/// the same rule applies, so bodies of 36..=251 base62 chars are accepted.
/// `ghs_<digits>_<jwt>` stateless installation tokens return `None`.
///
/// Sources: <https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/>
/// ("CRC32 ... encode the result with a Base62 implementation, using leading zeros for
/// padding"); implementations: DataDog/dd-sensitive-data-scanner
/// `sds/src/secondary_validation/github_token_checksum.rs`, google/osv-scalibr
/// `veles/secrets/github/checksum/checksum.go`; vectors from those tests and
/// therootcompany/base62-token.js `test.js` (20 expired real PATs).
pub fn github_crc32(token: &[u8]) -> Option<bool> {
    if token.len() < 4 || token[3] != b'_' {
        return None;
    }
    match &token[..3] {
        b"ghp" | b"gho" | b"ghu" | b"ghs" | b"ghr" => {}
        _ => return None,
    }
    let body = &token[4..];
    if !(36..=251).contains(&body.len()) || !is_base62(body) {
        return None;
    }
    Some(base62_crc32_tail(body))
}

/// npm access tokens: `npm_` + 30 random base62 + 6-char base62 CRC32.
///
/// Same scheme as GitHub: CRC32 over the 30 random chars only (not `npm_`),
/// base62 `0-9A-Za-z`, zero-padded to 6 chars.
///
/// Source: <https://github.blog/2021-09-23-announcing-npms-new-access-token-format/>
/// ("follow the same format of GitHub authentication tokens ... last six characters
/// ... CRC32 checksum ... encoded in our Base62 implementation"); Samsung/CredSweeper
/// `credsweeper/filters/value_github_check.py` applies the identical check to
/// `npm_` and `gh?_`. No public valid npm vector was found; the test vector
/// below is synthesized with this algorithm.
pub fn npm_crc32(token: &[u8]) -> Option<bool> {
    let body = token.strip_prefix(b"npm_")?;
    if body.len() != 36 || !is_base62(body) {
        return None;
    }
    Some(base62_crc32_tail(body))
}

/// GitLab routable tokens (GitLab 17.x+, e.g. `glpat-`, `glrt-`, `glrtr-`, `gldt-`, `glagent-`).
///
/// Current (v1) layout:
/// `<prefix><base64url payload>.<version: 2 base36 chars, "01">.<payload length: 2 base36><crc: 7 base36>`
/// Legacy layout (17.9-17.11, e.g. `glrt-t2_...`): `<prefix><payload>.<len: 2><crc: 7>`.
/// The payload is unpadded URL-safe base64 of `16 random bytes || routing text
/// ("c:1\no:rz", base36 ids) || 1 byte routing-text length` (legacy: routing
/// first, then random bytes, then the byte 16).
/// `crc = CRC32(everything before the last 7 chars)` - i.e. the prefix, payload,
/// dots, version and length - formatted with Ruby `Integer#to_s(36)` (lowercase)
/// and left-padded with `'0'` to 7 chars.
/// Only tokens starting `gl<lowercase>-` are recognized; tokens with a custom
/// instance prefix return `None` (the CRC would still cover that prefix).
///
/// Sources: gitlabhq/gitlabhq `lib/authn/token_field/generator/routable_token.rb`
/// (`append_crc`: `Zlib.crc32(encoded_payload).to_s(36).rjust(7, '0')`) and
/// `lib/authn/token_field/decoders/v1/routable_payload.rb`; vector from
/// `spec/lib/authn/token_field/decoders/v1/routable_payload_spec.rb`;
/// google/osv-scalibr `veles/secrets/gitlabpat/detector.go` + `detector_test.go`.
pub fn gitlab_routable(token: &[u8]) -> Option<bool> {
    let n = token.len();
    if n < 10 + 20 || token[n - 10] != b'.' || !is_base36_lower(&token[n - 9..]) {
        return None;
    }
    let mut head = &token[..n - 10];
    // optional ".<2-char version>"
    let m = head.len();
    if m >= 3 && head[m - 3] == b'.' && is_base36_lower(&head[m - 2..]) {
        head = &head[..m - 3];
    }
    if !token.starts_with(b"gl") || !is_base64url(head) {
        return None;
    }
    // prefix = "gl" + lowercase letters + "-"
    let dash = head.iter().position(|&c| c == b'-')?;
    if dash < 3 || !head[2..dash].iter().all(u8::is_ascii_lowercase) || head.len() - dash - 1 < 20 {
        return None;
    }
    let crc = crc32fast::hash(&token[..n - 7]);
    Some(encode_fixed::<7>(crc, B36) == token[n - 7..])
}

/// Atlassian tokens with a trailing CRC32.
///
/// * API / access tokens `AT?TT...` (`ATATT3xFfGF0...` user API tokens;
///   `ATCTT`/`ATSTT` share the layout): `<prefix><base64url-ish body>=<8 hex>`.
/// * Legacy Bitbucket app passwords: `ATBB` + 24 alnum + 8 hex (36 chars).
///
/// The 8 hex digits are the big-endian CRC32 of **everything before them**
/// (prefix `AT..` and the `=` separator included). Hex is uppercase in the
/// wild; parsed case-insensitively. Tokens seen in URLs/shell may carry `%3D`
/// or `\=` instead of `=`; unescape before calling.
///
/// Sources: DataDog/dd-sensitive-data-scanner
/// `sds/src/secondary_validation/atlassian_token_checksum.rs` (+ vectors);
/// Samsung/CredSweeper `credsweeper/filters/value_atlassian_token_check.py`,
/// `tests/samples/atlassian_pat`, `tests/samples/bitbucket_app_password`.
/// Verified vectors exist for `ATATT` and `ATBB` only.
pub fn atlassian_crc32(token: &[u8]) -> Option<bool> {
    let n = token.len();
    if n < 13 || !token.starts_with(b"AT") {
        return None;
    }
    let (data, hex) = token.split_at(n - 8);
    let expected = parse_hex_u32(hex)?;
    let shape_ok = if token.starts_with(b"ATBB") {
        n == 36 && data[4..].iter().all(u8::is_ascii_alphanumeric)
    } else {
        token[2].is_ascii_uppercase()
            && &token[3..5] == b"TT"
            && data.last() == Some(&b'=')
            && data
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'='))
    };
    if !shape_ok {
        return None;
    }
    Some(crc32fast::hash(data) == expected)
}

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    let mut chk: u32 = 1;
    for v in values {
        let b = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (b >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// age secret keys: `AGE-SECRET-KEY-1<58 chars>` (X25519) and
/// `AGE-SECRET-KEY-PQ-1<58 chars>` (ML-KEM-768+X25519).
///
/// Bech32 per BIP173 (checksum constant 1, **not** bech32m) without the 90-char
/// limit; HRP `age-secret-key-` / `age-secret-key-pq-`; the checksum is computed
/// over the lowercase form while keys are printed all-uppercase (mixed case is
/// invalid). Payload is a 32-byte identity: 52 data chars (the 4 padding bits
/// must be zero) + 6 checksum chars. Lowercase input returns `None` here.
///
/// Source: C2SP/C2SP `age.md` (<https://c2sp.org/age>: "Bech32 is as specified in
/// BIP173, but without length limits ... checksum is always computed over the
/// lowercase string"), whose example keys are the test vectors. Alternative:
/// crate `bech32 = "0.12"` (`bech32::decode`, Bech32 variant).
pub fn age_bech32(token: &[u8]) -> Option<bool> {
    let rest = token.strip_prefix(b"AGE-SECRET-KEY-")?;
    let (hrp_len, data) = match rest.strip_prefix(b"PQ-") {
        Some(r) => (18, r),
        None => (15, rest),
    };
    let data = data.strip_prefix(b"1")?;
    if data.len() != 58 {
        return None;
    }
    let mut vals = [0u8; 58];
    for (v, c) in vals.iter_mut().zip(data) {
        *v = BECH32_UPPER.iter().position(|x| x == c)? as u8;
    }
    let hrp: Vec<u8> = token[..hrp_len].iter().map(u8::to_ascii_lowercase).collect();
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.iter().map(|c| c & 31))
        .chain(vals.iter().copied());
    // 52 five-bit groups = 260 bits = 32 bytes + 4 padding bits, which must be 0.
    let padding_ok = vals[51] & 0x0f == 0;
    Some(bech32_polymod(expanded) == 1 && padding_ok)
}

/// Grafana service-account tokens: `glsa_<32 alnum>_<8 hex>`.
///
/// The 8 hex chars are the CRC32 of `glsa_<32 chars>` (i.e. the first 37
/// chars: `"gl" + "sa" + "_" + secret`) written as its **little-endian** bytes
/// in lowercase hex.
///
/// Source: grafana/grafana `pkg/components/satokengen/tokengen.go`
/// (`CalculateChecksum`), vector from `tokengen_test.go`; Samsung/CredSweeper
/// `credsweeper/filters/value_grafana_service_check.py`.
pub fn grafana_glsa(token: &[u8]) -> Option<bool> {
    if token.len() != 46 || !token.starts_with(b"glsa_") || token[37] != b'_' {
        return None;
    }
    if !is_base62(&token[5..37]) {
        return None;
    }
    let got = parse_hex_u32(&token[38..])?;
    Some(crc32fast::hash(&token[..37]).swap_bytes() == got)
}

/// Cloudflare scannable API credentials (2026): `cfk_` (global API key),
/// `cfut_` (user API token), `cfat_` (account API token) + 40 chars + 8 hex.
///
/// The 8 hex chars are the big-endian CRC32 of the 40 chars after the prefix
/// (prefix excluded). Cloudflare documents only "40 characters and a checksum";
/// the algorithm and vectors come from Samsung/CredSweeper
/// `credsweeper/filters/value_cloudflare_check.py` + `tests/samples/cloudflare`,
/// not from Cloudflare itself.
/// Source for the format: <https://developers.cloudflare.com/fundamentals/api/get-started/token-formats/>
pub fn cloudflare_crc32(token: &[u8]) -> Option<bool> {
    let body = token
        .strip_prefix(b"cfk_")
        .or_else(|| token.strip_prefix(b"cfut_"))
        .or_else(|| token.strip_prefix(b"cfat_"))?;
    if body.len() != 48 || !is_base62(&body[..40]) {
        return None;
    }
    let got = parse_hex_u32(&body[40..])?;
    Some(crc32fast::hash(&body[..40]) == got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replace the char at `i` with a different char of the same class.
    fn flip(tok: &str, i: usize) -> Vec<u8> {
        let mut b = tok.as_bytes().to_vec();
        let c = b[i];
        b[i] = match c {
            b'0'..=b'9' => {
                if c == b'0' {
                    b'1'
                } else {
                    b'0'
                }
            }
            b'A'..=b'Z' => {
                if c == b'A' {
                    b'B'
                } else {
                    b'A'
                }
            }
            _ => {
                if c == b'a' {
                    b'b'
                } else {
                    b'a'
                }
            }
        };
        b
    }

    /// valid -> Some(true); one char changed in the random part and in the checksum -> Some(false).
    fn check(f: fn(&[u8]) -> Option<bool>, valid: &[&str]) {
        for t in valid {
            assert_eq!(f(t.as_bytes()), Some(true), "valid {t}");
            let n = t.len();
            assert_eq!(f(&flip(t, n / 2)), Some(false), "body flipped {t}");
            assert_eq!(f(&flip(t, n - 2)), Some(false), "checksum flipped {t}");
        }
    }

    #[test]
    fn github() {
        check(
            github_crc32,
            &[
                // DataDog/dd-sensitive-data-scanner github_token_checksum.rs
                "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",
                "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",
                "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",
                "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",
                // therootcompany/base62-token.js test.js (expired real tokens)
                "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",
                "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",
                "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",
                // Samsung/CredSweeper tests/samples/github_classic_token ('0' padding)
                "ghp_00000000000000000000000000000004WZ4EQ",
                // google/osv-scalibr veles/secrets/github/checksum/checksum_test.go
                "ghu_aGgfQsQ52sImE9zwWxKcjt2nhESfYG1U2FhX",
                "ghr_OWOCPzqKuy3J4w53QpkLfffjBUJSh5yLnFHj7wiyR0NDadVOcykNkoqhoYYXM1yy2sOpAu0lG8fw",
            ],
        );
        // exact invalid vector from dd-sensitive-data-scanner
        assert_eq!(github_crc32(b"ghp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V3"), Some(false));
        // GitHub docs example token is not checksum-valid
        assert_eq!(github_crc32(b"gho_16C7e42F292c6912E7710c838347Ae178B4a"), Some(false));
        assert_eq!(github_crc32(b"ghp_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V/"), None);
        assert_eq!(github_crc32(b"ghx_M7H4jxUDDWHP4kZ6A4dxlQYsQIWJuq11T4V4"), None);
        assert_eq!(github_crc32(b"ghp_T4V4"), None);
        assert_eq!(
            github_crc32(
                b"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"
            ),
            None
        );
    }

    #[test]
    fn npm() {
        // Synthetic (no public valid vector found): CRC32("abcdefghijklmnopqrstuvwxyz0123") -> "2LolCm"
        check(npm_crc32, &["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"]);
        // trufflehog npmtokenv2_test.go "validPattern" is a regex fixture, not checksum-valid
        assert_eq!(npm_crc32(b"npm_hK0FJXBYCkejhEMY4Kp6bOOZn1DlfBOmtbJY"), Some(false));
        assert_eq!(npm_crc32(b"npm_short"), None);
        assert_eq!(npm_crc32(b"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"), None);
    }

    #[test]
    fn gitlab() {
        check(
            gitlab_routable,
            &[
                // gitlabhq spec/lib/authn/token_field/decoders/v1/routable_payload_spec.rb
                "glrtr-W5m1cHR6skC98Bx7XkuYjmM6MQpnOjgKbzpyegp0OjIQ.01.181uebm4k",
                // google/osv-scalibr veles/secrets/gitlabpat/detector_test.go
                "glpat-bzox79Of-KE9FD2LjoXXF4CvyxA.01.0r0l8l6ir",
                "glpat-bzox79Of-KE9FD2LjoXXF4CvyxA.0r03gxo7s",
            ],
        );
        // exact invalid vectors from the same tests
        assert_eq!(
            gitlab_routable(b"glrtr-W5m1cHR6skC98Bx7XkuYjmM6MQpnOjgKbzpyegp0OjIQ.01.181uebm4l"),
            Some(false)
        );
        assert_eq!(
            gitlab_routable(b"glpat-bzox79Of-KE9FD2LjoXXF4CvyxA.01.0r03gxo7a"),
            Some(false)
        );
        // the CRC covers the prefix
        assert_eq!(
            gitlab_routable(b"glpat-W5m1cHR6skC98Bx7XkuYjmM6MQpnOjgKbzpyegp0OjIQ.01.181uebm4k"),
            Some(false)
        );
        // legacy non-routable PAT and junk
        assert_eq!(gitlab_routable(b"glpat-vzDNJu3Lvh4YCCekKsnx"), None);
        assert_eq!(gitlab_routable(b"xxpat-bzox79Of-KE9FD2LjoXXF4CvyxA.01.0r0l8l6ir"), None);
    }

    #[test]
    fn atlassian() {
        check(
            atlassian_crc32,
            &[
                // DataDog/dd-sensitive-data-scanner atlassian_token_checksum.rs
                "ATATT3xFfGF0YZuf-EBmAHs1FyiNmk0cYQKtD9zx2LIv8d_zB-yk5Zp8nkug2Rp_ZnYJwq9ys-lS0PRAXLS4vL-crh5tbBbGQISteyOCpgUGgKjckD2MF9A6EZVGdTXikj52U2VDS8HeDlUq9Gmw8KYs5Kb0hS-LZo4Sb2PMpT1Zx0MmTXs_EyA=E2826606",
                "ATATT3xFfGF0Z0J8j7dew7xO2JMwbmnBZm-aJ5ORorE7qRgkDnmZYg9tpvatRzyvZNebxWeUxRZnSkEGeyAV3_Jew_YCxyCUsw_Ipefxsk0EFerD8PlRNEDtQQEmexYVpWbuTguSvV3USUg41GEdgTYa1MUK3YusfDWKzLthXBmkeUH4ZyaTp2Q=325540CC",
                // Samsung/CredSweeper tests/samples/atlassian_pat, bitbucket_app_password
                "ATATT3xFfGF0vNZ7oy6ON4KrWEzKEu96n-r2bCLOOcdOADizvJqPd89yKyP853uTZSflBi1Lk1zD460BqyMTa08VUEy8-oOzr1esg3j_mZKZwAELnRkCDTJZXhHsv5jaWHyAj4LRL-6h8LI-5MrYs4l7xXSaY8odQxDKJB4hDvdkmuh61xea2jE=00203E68",
                "ATBBcCe6fczW96Vzwgvb4r8F2gZS54D591C4",
            ],
        );
        // non-hex checksum / short checksum -> not applicable
        assert_eq!(atlassian_crc32(b"ATATT3xFfGF0YZuf-EBmAHs1FyiNmk0cY=E282607G"), None);
        assert_eq!(atlassian_crc32(b"ATATT3xFfGF0YZuf-EBmAHs1FyiNmk0cYE2826606"), None);
    }

    #[test]
    fn age() {
        check(
            age_bech32,
            &[
                // C2SP/C2SP age.md spec examples
                "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
                "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR",
                // Samsung/CredSweeper tests/samples/age-secret-key
                "AGE-SECRET-KEY-1KZYHJJGJ5DEC3RXGPEUA97WG99HU4Z3Z9ZK69GHAFZWJ08SFVF0QZ3WFSS",
            ],
        );
        // 'B' is not in the bech32 alphabet; lowercase/placeholder forms are not applicable
        assert_eq!(
            age_bech32(b"AGE-SECRET-KEY-1ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890ABCDEFGHIJKLMNOPQRS"),
            None
        );
        assert_eq!(
            age_bech32(b"age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex"),
            None
        );
        // the recipient (public key) is not a secret key
        assert_eq!(
            age_bech32(b"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"),
            None
        );
    }

    #[test]
    fn grafana() {
        // grafana/grafana pkg/components/satokengen/tokengen_test.go
        check(grafana_glsa, &["glsa_iNValIdinValiDinvalidinvalidinva_5b582697"]);
        assert_eq!(grafana_glsa(b"glsa_iNValIdinValiDinvalidinvalidinva_5b58269"), None);
    }

    #[test]
    fn cloudflare() {
        // Samsung/CredSweeper tests/samples/cloudflare (TP section)
        check(
            cloudflare_crc32,
            &[
                "cfat_ldxiugEl907l4fW6ViLbhZled5GG95J90dRk9JaD06f546f9",
                "cfut_WmHcE131Up3QBmRVvjfAyMBSik11OpgJpZikzYiu5bdbfa91",
                "cfk_7fqkxWi4TYQn4bPzsHyl0JuMV8UwHV2V1xpv54rjb5043cbd",
            ],
        );
        // CredSweeper FP section
        assert_eq!(
            cloudflare_crc32(b"cfat_ldxiugEl907l4fW6ViLbhZled5GG95J90dRk9JaD00000000"),
            Some(false)
        );
        assert_eq!(cloudflare_crc32(b"cfat_tooshort"), None);
    }

    #[test]
    fn encoders() {
        assert_eq!(&encode_fixed::<6>(0, B62), b"000000");
        assert_eq!(&encode_fixed::<6>(u32::MAX, B62), b"4gfFC3");
        assert_eq!(&encode_fixed::<7>(u32::MAX, B36), b"1z141z3");
    }
}
