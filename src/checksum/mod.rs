//! Checksums embedded in vendor token formats. A checksum does not gate a match (a token that
//! fails it is still redacted); its result is recorded in the finding, so that reports can
//! separate confirmed vendor tokens from pattern-only matches.

pub mod formats;

/// The outcome of verifying a token's embedded checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumResult {
    /// The rule has no checksum, or the token's shape carries none.
    #[default]
    None,
    /// The checksum matched.
    Valid,
    /// The checksum did not match.
    Invalid,
}

impl ChecksumResult {
    /// `none`, `valid` or `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumResult::None => "none",
            ChecksumResult::Valid => "valid",
            ChecksumResult::Invalid => "invalid",
        }
    }

    fn from_option(v: Option<bool>) -> Self {
        match v {
            None => ChecksumResult::None,
            Some(true) => ChecksumResult::Valid,
            Some(false) => ChecksumResult::Invalid,
        }
    }
}

/// A checksum scheme a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// GitHub classic tokens: CRC32 of the random part, base62, in the last 6 characters.
    GithubCrc32,
    /// npm access tokens: the same scheme as GitHub's.
    NpmCrc32,
    /// GitLab routable tokens: CRC32 of everything before the last 7 characters, base36.
    GitlabRoutable,
    /// Atlassian API tokens: CRC32 of everything before the last 8 hex characters.
    AtlassianCrc32,
    /// age secret keys: Bech32 (BIP 173).
    AgeBech32,
    /// Grafana service account tokens (`glsa_`): CRC32 in the last 8 hex characters.
    GrafanaGlsa,
    /// Cloudflare tokens (`cfk_`, `cfut_`, `cfat_`): CRC32 of the 40 random characters.
    CloudflareCrc32,
}

impl Checksum {
    /// Looks a scheme up by the name used in rule files.
    pub fn from_name(name: &str) -> Option<Checksum> {
        Some(match name {
            "github_crc32" => Checksum::GithubCrc32,
            "npm_crc32" => Checksum::NpmCrc32,
            "gitlab_routable" => Checksum::GitlabRoutable,
            "atlassian_crc32" => Checksum::AtlassianCrc32,
            "age_bech32" => Checksum::AgeBech32,
            "grafana_glsa" => Checksum::GrafanaGlsa,
            "cloudflare_crc32" => Checksum::CloudflareCrc32,
            _ => return None,
        })
    }

    /// Verifies `token` (the whole secret, prefix included).
    pub fn verify(self, token: &[u8]) -> ChecksumResult {
        ChecksumResult::from_option(match self {
            Checksum::GithubCrc32 => formats::github_crc32(token),
            Checksum::NpmCrc32 => formats::npm_crc32(token),
            Checksum::GitlabRoutable => formats::gitlab_routable(token),
            Checksum::AtlassianCrc32 => formats::atlassian_crc32(token),
            Checksum::AgeBech32 => formats::age_bech32(token),
            Checksum::GrafanaGlsa => formats::grafana_glsa(token),
            Checksum::CloudflareCrc32 => formats::cloudflare_crc32(token),
        })
    }
}
