//! Validated identifiers.
//!
//! Everything that ends up in an S3 key, an index name or a log line is parsed
//! into one of these types first, so a hostile or broken message can never
//! steer a write to another prefix or forge a log field.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected. Always permanent: the same input fails again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("account id must be 12 digits, got {0:?}")]
    Account(String),
    #[error("region is not a valid AWS region name: {0:?}")]
    Region(String),
    #[error("partition is not a valid AWS partition: {0:?}")]
    Partition(String),
    #[error("region {region} belongs to partition {region_partition}, not {partition}")]
    ForeignRegion {
        region: String,
        region_partition: &'static str,
        partition: String,
    },
    #[error("not a valid {expected} ARN: {reason}")]
    Arn {
        expected: &'static str,
        reason: String,
    },
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Account(truncate_for_message(raw)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AWS region name such as `us-east-1`, `eu-central-2` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    /// Accepts `<2 to 4 letters>(-<letters>)+-<digits>`: every region AWS
    /// has published follows it (`eusc-de-east-1` has four), new ones
    /// included, so no region list can drop one.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let parts: Vec<&str> = raw.split('-').collect();
        let well_formed = raw.len() <= 32
            && parts.len() >= 3
            && (2..=4).contains(&parts[0].len())
            && parts[0].bytes().all(|b| b.is_ascii_lowercase())
            && parts[1..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts.last().is_some_and(|p| {
                !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit())
            });
        if well_formed {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Region(truncate_for_message(raw)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition the region belongs to, from the region name patterns
    /// of AWS's partition metadata (`partitions.json` in the SDKs): the
    /// isolated and sovereign partitions have their own prefixes, every
    /// other region is in `aws` (so a new commercial region needs no list).
    pub fn partition_name(&self) -> &'static str {
        // Longest prefixes first: `us-isob-` before `us-iso-`.
        const PREFIXES: [(&str, &str); 7] = [
            ("us-isob-", "aws-iso-b"),
            ("us-isof-", "aws-iso-f"),
            ("us-iso-", "aws-iso"),
            ("eu-isoe-", "aws-iso-e"),
            ("us-gov-", "aws-us-gov"),
            ("cn-", "aws-cn"),
            ("eusc-", "aws-eusc"),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| self.0.starts_with(prefix))
            .map_or("aws", |(_, partition)| *partition)
    }
}

/// An AWS partition: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Partition(String);

impl Partition {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = raw == "aws"
            || raw.strip_prefix("aws-").is_some_and(|rest| {
                !rest.is_empty()
                    && rest.len() <= 16
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Partition(truncate_for_message(raw)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `region` belongs to this partition.
    pub fn contains(&self, region: &Region) -> bool {
        region.partition_name() == self.0
    }

    /// `Ok` when `region` belongs to this partition, else why not.
    pub fn check_region(&self, region: &Region) -> Result<(), IdError> {
        if self.contains(region) {
            Ok(())
        } else {
            Err(IdError::ForeignRegion {
                region: region.to_string(),
                region_partition: region.partition_name(),
                partition: self.to_string(),
            })
        }
    }
}

macro_rules! string_newtype_impls {
    ($($t:ident),*) => {$(
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
string_newtype_impls!(AccountId, Region, Partition);

/// The parts of an ARN that fanin relies on, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: Partition,
    pub service: String,
    pub region: Region,
    pub account: AccountId,
    pub resource: String,
    raw: String,
}

impl Arn {
    /// Parses `arn:<partition>:<service>:<region>:<account>:<resource>` where
    /// region and account are required (every ARN fanin reads has both).
    pub fn parse(raw: &str, expected_service: &'static str) -> Result<Self, IdError> {
        let fail = |reason: &str| IdError::Arn {
            expected: expected_service,
            reason: format!("{reason} in {:?}", truncate_for_message(raw)),
        };
        if raw.len() > 2048 || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(fail("too long or has whitespace/control characters"));
        }
        let mut parts = raw.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(fail("not arn:partition:service:region:account:resource"));
        };
        if service != expected_service {
            return Err(fail("wrong service"));
        }
        if resource.is_empty() {
            return Err(fail("empty resource"));
        }
        Ok(Self {
            partition: Partition::parse(partition)?,
            service: service.to_owned(),
            region: Region::parse(region)?,
            account: AccountId::parse(account)?,
            resource: resource.to_owned(),
            raw: raw.to_owned(),
        })
    }
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// An Inspector Classic finding ARN:
/// `arn:aws:inspector:<region>:<account>:target/0-x/template/0-y/run/0-z/finding/0-f`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassicFindingArn(Arn);

impl ClassicFindingArn {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let arn = Arn::parse(raw, "inspector")?;
        let segments: Vec<&str> = arn.resource.split('/').collect();
        let shaped = segments.len() == 8
            && segments[0] == "target"
            && segments[2] == "template"
            && segments[4] == "run"
            && segments[6] == "finding"
            && [1, 3, 5, 7].iter().all(|&i| is_classic_id(segments[i]));
        if !shaped {
            return Err(IdError::Arn {
                expected: "Inspector Classic finding",
                reason: format!(
                    "resource is not target/../template/../run/../finding/.. in {:?}",
                    truncate_for_message(raw)
                ),
            });
        }
        Ok(Self(arn))
    }
    pub fn arn(&self) -> &Arn {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

fn is_classic_id(segment: &str) -> bool {
    segment.len() <= 64
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !segment.is_empty()
}

/// An EC2 instance id (`i-` and 8 or 17 hex digits).
pub fn is_instance_id(raw: &str) -> bool {
    raw.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Whether `raw` is an EC2 resource id with `prefix` (`sg`, `vpc`, `subnet`,
/// `eni`): the prefix, a dash and 8 or 17 hex digits. What a finding reports
/// goes to EC2 calls and typed fields only when it is one.
pub fn is_ec2_id(prefix: &str, raw: &str) -> bool {
    raw.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

/// Cuts untrusted text before it goes into an error message or a log line.
pub fn truncate_for_message(raw: &str) -> String {
    const LIMIT: usize = 120;
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(LIMIT)
        .collect();
    if raw.chars().count() > LIMIT {
        format!("{cleaned}...")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_twelve_digits() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            "../123456789",
        ] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_follow_the_aws_pattern() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "us-gov-west-1",
            "il-central-1",
            "mx-central-1",
            "eusc-de-east-1",
        ] {
            assert!(Region::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "US-EAST-1",
            "us-east",
            "us_east_1",
            "us-east-1/..",
            "",
            "x-east-1",
            "abcde-east-1",
            "us--1",
        ] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_belong_to_their_partition() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("il-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            let region = Region::parse(region).unwrap();
            assert_eq!(region.partition_name(), partition, "{region}");
            assert!(Partition::parse(partition).unwrap().contains(&region));
        }
        let aws = Partition::parse("aws").unwrap();
        let error = aws
            .check_region(&Region::parse("cn-north-1").unwrap())
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "region cn-north-1 belongs to partition aws-cn, not aws"
        );
    }

    #[test]
    fn classic_finding_arns_are_validated() {
        let good = "arn:aws:inspector:us-west-2:123456789012:target/0-abcd1234/template/0-efgh5678/run/0-ijkl9012/finding/0-mnop3456";
        let arn = ClassicFindingArn::parse(good).unwrap();
        assert_eq!(arn.arn().account.as_str(), "123456789012");
        assert_eq!(arn.arn().region.as_str(), "us-west-2");
        assert_eq!(arn.arn().partition.as_str(), "aws");
        let cn = good.replace("arn:aws:", "arn:aws-cn:");
        assert_eq!(
            ClassicFindingArn::parse(&cn)
                .unwrap()
                .arn()
                .partition
                .as_str(),
            "aws-cn"
        );
        for bad in [
            good.replace("123456789012", "12345678901x"),
            good.replace("/finding/", "/findings/"),
            good.replace("inspector", "inspector2"),
            good.replace("us-west-2", "us-west-2/../x"),
            format!("{good}/extra"),
            "arn:aws:inspector".to_string(),
        ] {
            assert!(ClassicFindingArn::parse(&bad).is_err(), "{bad}");
        }
    }
}
