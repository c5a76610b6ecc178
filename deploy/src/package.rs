//! The Lambda zips: built with cargo-lambda for arm64, or brought by the
//! caller, and named by their content so every code change gets a new S3 key
//! (CloudFormation only redeploys a function when its code key changes). The
//! guard's policy travels with them, named the same way
//! ([`crate::guard_policy`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// One file to upload (a zip, or the guard's policy) and the SHA-256 of its
/// bytes (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub sha256: String,
}

impl Artifact {
    /// Reads the zip, checks it is one, and hashes it.
    pub fn from_zip(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        if !bytes.starts_with(b"PK\x03\x04") {
            return Err(Error::NotAZip {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    /// The SHA-256 as S3 gives and takes it (`ChecksumSHA256`): base64 of
    /// the 32 bytes.
    pub fn sha256_base64(&self) -> String {
        let bytes = hex::decode(&self.sha256).unwrap_or_default();
        aws_smithy_types::base64::encode(bytes)
    }

    /// `fanin/<sha256>/<file_name>`.
    pub fn key(&self, file_name: &str) -> String {
        format!("fanin/{}/{file_name}", self.sha256)
    }
}

/// The collector's, the forwarder's, the coverage check's, the guard's and
/// the exposure and privileges functions' deployment packages, and the
/// guard's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    pub collector: Artifact,
    pub forwarder: Artifact,
    pub coverage: Artifact,
    pub guard: Artifact,
    pub exposure: Artifact,
    pub privileges: Artifact,
    /// Validated when it is read ([`crate::guard_policy::load`]).
    pub guard_policy: Artifact,
}

/// Where each artifact is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFiles {
    pub collector_zip: PathBuf,
    pub forwarder_zip: PathBuf,
    pub coverage_zip: PathBuf,
    pub guard_zip: PathBuf,
    pub exposure_zip: PathBuf,
    pub privileges_zip: PathBuf,
    /// The deployment's `GuardPolicy` ([`crate::Deployment::guard_policy`]).
    pub guard_policy: PathBuf,
}

impl Artifacts {
    /// For callers that build their own zips (tests zip debug binaries).
    /// The policy is read and validated first, so an invalid one stops
    /// everything before any zip is looked at.
    pub fn from_files(files: &ArtifactFiles) -> Result<Self, Error> {
        let guard_policy = crate::guard_policy::load(&files.guard_policy)?;
        Ok(Self {
            collector: Artifact::from_zip(&files.collector_zip)?,
            forwarder: Artifact::from_zip(&files.forwarder_zip)?,
            coverage: Artifact::from_zip(&files.coverage_zip)?,
            guard: Artifact::from_zip(&files.guard_zip)?,
            exposure: Artifact::from_zip(&files.exposure_zip)?,
            privileges: Artifact::from_zip(&files.privileges_zip)?,
            guard_policy,
        })
    }

    /// The same code with the policy of another file (validated).
    pub fn with_guard_policy(&self, path: &Path) -> Result<Self, Error> {
        Ok(Self {
            guard_policy: crate::guard_policy::load(path)?,
            ..self.clone()
        })
    }

    /// The `CollectorCodeKey` parameter.
    pub fn collector_key(&self) -> String {
        self.collector.key("collector.zip")
    }

    /// The `ForwarderCodeKey` parameter.
    pub fn forwarder_key(&self) -> String {
        self.forwarder.key("forwarder.zip")
    }

    /// The `CoverageCodeKey` parameter.
    pub fn coverage_key(&self) -> String {
        self.coverage.key("coverage.zip")
    }

    /// The `GuardCodeKey` parameter.
    pub fn guard_key(&self) -> String {
        self.guard.key("guard.zip")
    }

    /// The `ExposureCodeKey` parameter.
    pub fn exposure_key(&self) -> String {
        self.exposure.key("exposure.zip")
    }

    /// The `PrivilegesCodeKey` parameter.
    pub fn privileges_key(&self) -> String {
        self.privileges.key("privileges.zip")
    }

    /// The `GuardPolicyKey` parameter: `fanin/<sha256>/guard-policy.yaml`.
    pub fn guard_policy_key(&self) -> String {
        self.guard_policy.key(crate::guard_policy::FILE_NAME)
    }

    /// (key, file) of everything that goes to the code buckets.
    pub fn uploads(&self) -> [(String, &Artifact); 7] {
        [
            (self.collector_key(), &self.collector),
            (self.forwarder_key(), &self.forwarder),
            (self.coverage_key(), &self.coverage),
            (self.guard_key(), &self.guard),
            (self.exposure_key(), &self.exposure),
            (self.privileges_key(), &self.privileges),
            (self.guard_policy_key(), &self.guard_policy),
        ]
    }
}

/// The packages to build, each with one binary of the same name.
const LAMBDA_PACKAGES: [&str; 6] = [
    "fanin-collector",
    "fanin-forwarder",
    "fanin-coverage",
    "fanin-guard",
    "fanin-exposure",
    "fanin-privileges",
];

/// Builds the Lambdas with
/// `cargo lambda build --release --arm64 --output-format zip` into
/// `out_dir/<binary>/bootstrap.zip` and hashes the zips, with the guard's
/// policy from `guard_policy` (validated before the build starts).
///
/// Uses `<workspace_root>/.local/venv/bin/cargo-lambda` (installed by
/// `scripts/setup`, with zig next to it) when present, else `cargo lambda`
/// from `PATH`. Blocks until the build ends; its output goes to the terminal.
pub fn package(
    workspace_root: &Path,
    out_dir: &Path,
    guard_policy: &Path,
) -> Result<Artifacts, Error> {
    // A policy that cannot be deployed should fail before a long build.
    crate::guard_policy::load(guard_policy)?;
    let venv_bin = workspace_root.join(".local/venv/bin");
    let local_tool = venv_bin.join("cargo-lambda");
    let mut command = if local_tool.is_file() {
        let mut command = Command::new(&local_tool);
        // cargo-lambda finds zig (its cross linker) on PATH.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![venv_bin.clone()];
        paths.extend(std::env::split_paths(&path));
        let joined = std::env::join_paths(paths).map_err(|e| Error::Build(e.to_string()))?;
        command.env("PATH", joined);
        command
    } else {
        Command::new("cargo")
    };
    command
        .current_dir(workspace_root)
        .args([
            "lambda",
            "build",
            "--release",
            "--arm64",
            "--output-format",
            "zip",
        ])
        .arg("--lambda-dir")
        .arg(out_dir);
    for package in LAMBDA_PACKAGES {
        command.args(["--package", package]);
    }
    tracing::info!(out_dir = %out_dir.display(), "building the lambdas (release, arm64)");
    let status = command.status().map_err(|e| {
        Error::Build(format!(
            "cannot run cargo-lambda ({e}); run scripts/setup or `pip install cargo-lambda`"
        ))
    })?;
    if !status.success() {
        return Err(Error::Build(format!(
            "cargo lambda build ended with {status}"
        )));
    }
    let zip = |binary: &str| out_dir.join(binary).join("bootstrap.zip");
    Artifacts::from_files(&ArtifactFiles {
        collector_zip: zip(LAMBDA_PACKAGES[0]),
        forwarder_zip: zip(LAMBDA_PACKAGES[1]),
        coverage_zip: zip(LAMBDA_PACKAGES[2]),
        guard_zip: zip(LAMBDA_PACKAGES[3]),
        exposure_zip: zip(LAMBDA_PACKAGES[4]),
        privileges_zip: zip(LAMBDA_PACKAGES[5]),
        guard_policy: guard_policy.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_content() {
        let dir = std::env::temp_dir().join(format!("fanin-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.zip");
        let two = dir.join("two.zip");
        let not_zip = dir.join("bootstrap");
        std::fs::write(&one, b"PK\x03\x04one").unwrap();
        std::fs::write(&two, b"PK\x03\x04two").unwrap();
        std::fs::write(&not_zip, b"\x7fELF").unwrap();

        let three = dir.join("three.zip");
        std::fs::write(&three, b"PK\x03\x04three").unwrap();
        let four = dir.join("four.zip");
        std::fs::write(&four, b"PK\x03\x04four").unwrap();
        let five = dir.join("five.zip");
        std::fs::write(&five, b"PK\x03\x04five").unwrap();
        let six = dir.join("six.zip");
        std::fs::write(&six, b"PK\x03\x04six").unwrap();
        const POLICY: &[u8] = b"version: 1\nselectors:\n  - name: all\n";
        let policy = dir.join("guard.yaml");
        std::fs::write(&policy, POLICY).unwrap();
        let files = |coverage: &Path, forwarder: &Path| ArtifactFiles {
            collector_zip: one.clone(),
            forwarder_zip: forwarder.to_owned(),
            coverage_zip: coverage.to_owned(),
            guard_zip: four.clone(),
            exposure_zip: five.clone(),
            privileges_zip: six.clone(),
            guard_policy: policy.clone(),
        };
        let artifacts = Artifacts::from_files(&files(&three, &two)).unwrap();
        assert_eq!(
            artifacts.collector.sha256,
            hex::encode(Sha256::digest(b"PK\x03\x04one"))
        );
        assert_eq!(
            artifacts.collector_key(),
            format!("fanin/{}/collector.zip", artifacts.collector.sha256)
        );
        assert!(artifacts.forwarder_key().ends_with("/forwarder.zip"));
        assert!(artifacts.coverage_key().ends_with("/coverage.zip"));
        assert_eq!(
            artifacts.guard_key(),
            format!(
                "fanin/{}/guard.zip",
                hex::encode(Sha256::digest(b"PK\x03\x04four"))
            )
        );
        assert_eq!(
            artifacts.guard_policy_key(),
            format!(
                "fanin/{}/guard-policy.yaml",
                hex::encode(Sha256::digest(POLICY))
            )
        );
        assert_eq!(
            artifacts.exposure_key(),
            format!(
                "fanin/{}/exposure.zip",
                hex::encode(Sha256::digest(b"PK\x03\x04five"))
            )
        );
        assert_eq!(
            artifacts.privileges_key(),
            format!(
                "fanin/{}/privileges.zip",
                hex::encode(Sha256::digest(b"PK\x03\x04six"))
            )
        );
        let keys: Vec<String> = artifacts.uploads().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), 7);
        assert!(keys.contains(&artifacts.exposure_key()));
        assert!(keys.contains(&artifacts.privileges_key()));
        assert!(keys.contains(&artifacts.guard_policy_key()));
        assert_ne!(artifacts.collector.sha256, artifacts.forwarder.sha256);

        // Another policy changes only the policy's key.
        let other_policy = dir.join("other.yaml");
        std::fs::write(&other_policy, b"version: 1\nselectors:\n  - name: other\n").unwrap();
        let other = artifacts.with_guard_policy(&other_policy).unwrap();
        assert_eq!(other.guard_key(), artifacts.guard_key());
        assert_ne!(other.guard_policy_key(), artifacts.guard_policy_key());

        assert!(matches!(
            Artifacts::from_files(&files(&not_zip, &two)),
            Err(Error::NotAZip { .. })
        ));
        assert!(matches!(
            Artifacts::from_files(&files(&three, &dir.join("missing.zip"))),
            Err(Error::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
