//! The security-group guard's policy: the YAML file the deployment's
//! `GuardPolicy` names (default `policies/guard.yaml` at the repository
//! root), validated before anything is uploaded, and named by its content
//! like the zips: `fanin/<sha256>/guard-policy.yaml` in every region's code
//! bucket. The guard reads that object, at the version fanin-deploy pinned
//! (`GuardPolicyKey`/`GuardPolicyVersion`), at cold start.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::package::Artifact;

/// The policy's file name beside the zips.
pub const FILE_NAME: &str = "guard-policy.yaml";

/// Reads the policy at `path`, validates it and hashes its bytes. Every
/// problem is an [`Error::GuardPolicy`] naming the file.
pub fn load(path: &Path) -> Result<Artifact, Error> {
    let problem = |problem: String| Error::GuardPolicy {
        path: path.to_owned(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|source| {
        problem(format!(
            "cannot be read ({source}); GuardPolicy in deployment.json names it, relative to that file (default: policies/guard.yaml at the repository root)"
        ))
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| problem("is not UTF-8 text, so not a YAML policy".to_owned()))?;
    validate_guard_policy(text)
        .map_err(|message| problem(format!("is not a valid policy: {message}")))?;
    Ok(Artifact {
        path: path.to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

/// The guard's own parser: every problem at once, each with its place.
fn validate_guard_policy(text: &str) -> Result<(), String> {
    fanin::guard::policy::Policy::parse(text)
        .map(|_| ())
        .map_err(|errors| errors.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fanin-deploy-guard-policy-{}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_policy_is_named_by_the_sha256_of_its_bytes() {
        let dir = scratch("valid");
        let path = dir.join("guard.yaml");
        let text = b"# audit everything\nversion: 1\nselectors:\n  - name: all\n";
        std::fs::write(&path, text).unwrap();
        let policy = load(&path).unwrap();
        assert_eq!(policy.sha256, hex::encode(Sha256::digest(text)));
        assert_eq!(
            policy.key(FILE_NAME),
            format!("fanin/{}/guard-policy.yaml", policy.sha256)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_policy_file_is_named_with_where_it_is_configured() {
        let dir = scratch("missing");
        let path = dir.join("no-such-policy.yaml");
        let message = load(&path).unwrap_err().to_string();
        assert!(message.starts_with("guard policy "), "{message}");
        assert!(message.contains("no-such-policy.yaml"), "{message}");
        assert!(message.contains("cannot be read"), "{message}");
        assert!(
            message.contains("GuardPolicy in deployment.json"),
            "{message}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_invalid_policy_file_is_refused_with_the_reason() {
        let dir = scratch("invalid");
        let empty = dir.join("empty.yaml");
        std::fs::write(&empty, b"# only a comment\n\n").unwrap();
        let message = load(&empty).unwrap_err().to_string();
        assert!(message.contains("empty.yaml"), "{message}");
        assert!(message.contains("is not a valid policy"), "{message}");

        let typo = dir.join("typo.yaml");
        std::fs::write(
            &typo,
            b"version: 1\nselectors:\n  - name: all\n    match: { region: [us-east-1] }\n",
        )
        .unwrap();
        let message = load(&typo).unwrap_err().to_string();
        assert!(message.contains("unknown field `region`"), "{message}");

        let binary = dir.join("binary.yaml");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
        let message = load(&binary).unwrap_err().to_string();
        assert!(message.contains("binary.yaml"), "{message}");
        assert!(message.contains("not UTF-8"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
