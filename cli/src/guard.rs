//! `fanin guard`: the security-group guard's policy without the guard.
//!
//! - `fanin guard validate --policy <file>`: the policy's problems, each
//!   with its place; exit code 1 when there is one.
//! - `fanin guard check --policy <file> [--account <id>]... [--region <r>]...
//!   [--json]`: the dry run. Every security group of each account and region
//!   (DescribeSecurityGroups and DescribeSecurityGroupRules, paginated) is
//!   evaluated against the policy as the guard would: the covering selector,
//!   its mode, the break-glass tag, COMPLIANT or NON_COMPLIANT with the
//!   annotation Config would get, the rules the real-time path would revoke
//!   (each existing rule judged with no approver) and the permissions
//!   remediation would authorize. It never calls a mutating API.
//!
//! Without `--account` it evaluates the caller's own account with the
//! caller's credentials. Another account is reached through its read role
//! (`--role-name`, default `fanin-collector-read`) with the ExternalId
//! (`--external-id` or `FANIN_EXTERNAL_ID`), as the collector's enrichment
//! does; the read role grants exactly these two Describe calls
//! (`cloudformation/application-global.yaml`) and trusts the central
//! collector and coverage roles, so the operator runs the check from one of
//! those principals (`docs/guard.md`).
//!
//! The evaluation and the rendering are pure ([`evaluate_group`],
//! [`render_text`]); only [`Ec2Groups`] calls AWS.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use fanin::guard::evaluate::{Actor, GroupFacts, Verdict};
use fanin::guard::permission::{Direction, GroupRule};
use fanin::guard::policy::{Mode, Policy};
use fanin::ids::{AccountId, Region};
use serde::Serialize;

/// The read role's default name (`ReadRoleName` of application-global.yaml).
pub const DEFAULT_ROLE_NAME: &str = "fanin-collector-read";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: GuardCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum GuardCommand {
    /// Evaluate the policy against the current security groups of accounts
    /// and regions, changing nothing (the dry run).
    Check(CheckArgs),
    /// Print the policy's problems with their places; exit code 1 when
    /// invalid.
    Validate(ValidateArgs),
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// The guard policy (YAML, docs/guard.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The guard policy (YAML, docs/guard.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// An account to evaluate (repeatable; default: the caller's own).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// A region to evaluate (repeatable; default: the AWS configuration's
    /// region).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// One JSON document (every group's report) instead of the text.
    #[arg(long)]
    pub json: bool,
    /// The read role assumed in another account.
    #[arg(long, default_value = DEFAULT_ROLE_NAME, value_name = "NAME")]
    pub role_name: String,
    /// The ExternalId of the read role, needed for another account
    /// (default: the environment variable `FANIN_EXTERNAL_ID`).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        GuardCommand::Validate(args) => validate(args),
        GuardCommand::Check(args) => check(args).await,
    }
}

fn read_policy_text(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn validate(args: ValidateArgs) -> anyhow::Result<()> {
    let text = read_policy_text(&args.policy)?;
    match Policy::parse(&text) {
        Ok(policy) => {
            println!("{}", render_valid(&args.policy, &policy));
            Ok(())
        }
        Err(errors) => {
            println!("{}", render_problems(&args.policy, &errors.0));
            bail!(
                "{} is not a valid guard policy ({} problems)",
                args.policy.display(),
                errors.0.len()
            )
        }
    }
}

/// What `validate` prints for a valid policy.
pub fn render_valid(path: &std::path::Path, policy: &Policy) -> String {
    let selectors: Vec<String> = policy
        .selectors
        .iter()
        .map(|s| format!("{} ({})", s.name, mode_name(s.mode)))
        .collect();
    format!(
        "{}: valid (digest {}), selectors: {}",
        path.display(),
        policy.digest,
        selectors.join(", ")
    )
}

/// What `validate` prints for an invalid policy: one problem a line.
pub fn render_problems(path: &std::path::Path, problems: &[String]) -> String {
    let mut text = format!("{}: {} problems\n", path.display(), problems.len());
    for problem in problems {
        text.push_str(&format!("  - {problem}\n"));
    }
    text.trim_end().to_owned()
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Audit => "audit",
        Mode::Enforce => "enforce",
    }
}

/// One group's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    pub account: String,
    pub region: String,
    pub group_id: String,
    pub group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The covering selector (`None`: the policy does not cover the group).
    pub selector: Option<String>,
    pub mode: Option<Mode>,
    pub remediation: bool,
    pub break_glass: bool,
    /// `COMPLIANT`, `NON_COMPLIANT` or `NOT_COVERED`.
    pub status: &'static str,
    pub annotation: String,
    /// Rules the real-time path would revoke (in enforce mode; recorded as
    /// would-revert in audit mode).
    pub would_revoke: Vec<RuleLine>,
    /// Desired permissions remediation would authorize (only with
    /// `remediation: true`; listed either way).
    pub would_authorize: Vec<PermissionLine>,
    /// Rules of the group that fanin could not read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleLine {
    pub rule_id: String,
    pub direction: Direction,
    pub permission: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PermissionLine {
    pub direction: Direction,
    pub permission: String,
}

/// The whole dry run: each account and region's groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub policy_digest: String,
    pub groups: Vec<GroupReport>,
}

/// Evaluates one group as the guard would, changing nothing.
pub fn evaluate_group(policy: &Policy, group: &GroupFacts, unreadable: Vec<String>) -> GroupReport {
    let mut report = GroupReport {
        account: group.account.to_string(),
        region: group.region.to_string(),
        group_id: group.group_id.clone(),
        group_name: group.group_name.clone(),
        vpc_id: group.vpc_id.clone(),
        selector: None,
        mode: None,
        remediation: false,
        break_glass: false,
        status: "NOT_COVERED",
        annotation: "no selector covers the group".to_owned(),
        would_revoke: Vec::new(),
        would_authorize: Vec::new(),
        unreadable,
    };
    let Some(coverage) = policy.covering(group) else {
        return report;
    };
    report.selector = Some(coverage.selector.name.clone());
    report.mode = Some(coverage.mode());
    report.remediation = coverage.selector.remediation;
    report.break_glass = coverage.break_glass;
    let diff = coverage.desired_state(group);
    report.status = if diff.compliant() {
        "COMPLIANT"
    } else {
        "NON_COMPLIANT"
    };
    report.annotation = diff.annotation();
    let nobody = Actor::default();
    report.would_revoke = group
        .rules
        .iter()
        .filter_map(|rule| {
            let verdict = coverage.judge(&nobody, rule);
            (!verdict.approved()).then(|| RuleLine {
                rule_id: rule.rule_id.clone(),
                direction: rule.direction,
                permission: rule.permission.to_string(),
                verdict,
            })
        })
        .collect();
    report.would_authorize = diff
        .missing
        .iter()
        .map(|missing| PermissionLine {
            direction: missing.direction,
            permission: missing.permission.to_string(),
        })
        .collect();
    report
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// The text report: one block per group.
pub fn render_text(report: &CheckReport) -> String {
    let mut text = format!(
        "policy {}: {} groups\n",
        report.policy_digest,
        report.groups.len()
    );
    for group in &report.groups {
        text.push('\n');
        text.push_str(&format!(
            "{} {} {} ({})",
            group.account, group.region, group.group_id, group.group_name
        ));
        if let Some(vpc) = &group.vpc_id {
            text.push_str(&format!(" in {vpc}"));
        }
        text.push('\n');
        match (&group.selector, group.mode) {
            (Some(selector), Some(mode)) => text.push_str(&format!(
                "  selector {selector}, mode {}, remediation {}, break-glass {}\n",
                mode_name(mode),
                if group.remediation { "on" } else { "off" },
                if group.break_glass { "yes" } else { "no" },
            )),
            _ => text.push_str("  not covered by the policy\n"),
        }
        text.push_str(&format!("  {}: {}\n", group.status, group.annotation));
        for rule in &group.would_revoke {
            text.push_str(&format!(
                "  would revoke {} {} {}\n",
                rule.rule_id,
                direction_name(rule.direction),
                rule.permission
            ));
        }
        for permission in &group.would_authorize {
            text.push_str(&format!(
                "  would authorize {} {}{}\n",
                direction_name(permission.direction),
                permission.permission,
                if group.remediation {
                    ""
                } else {
                    " (remediation off)"
                }
            ));
        }
        for problem in &group.unreadable {
            text.push_str(&format!("  unreadable rule: {problem}\n"));
        }
    }
    text.trim_end().to_owned()
}

/// A security group as the two Describe calls give it.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedGroup {
    pub facts: GroupFacts,
    /// Rules that did not read as a permission (with why).
    pub unreadable: Vec<String>,
}

/// The read calls of the dry run, in one account and region.
pub struct Ec2Groups {
    client: aws_sdk_ec2::Client,
}

impl Ec2Groups {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_ec2::Client::new(config),
        }
    }

    /// Every group with its rules (DescribeSecurityGroups and
    /// DescribeSecurityGroupRules, every page).
    pub async fn groups(
        &self,
        account: &AccountId,
        region: &Region,
    ) -> anyhow::Result<Vec<DescribedGroup>> {
        let mut groups = Vec::new();
        let mut pages = self
            .client
            .describe_security_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context("DescribeSecurityGroups")?;
            for group in page.security_groups() {
                let tags = group
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                    .collect::<BTreeMap<_, _>>();
                groups.push(DescribedGroup {
                    facts: GroupFacts {
                        account: account.clone(),
                        region: region.clone(),
                        group_id: group.group_id().unwrap_or_default().to_owned(),
                        group_name: group.group_name().unwrap_or_default().to_owned(),
                        vpc_id: group.vpc_id().map(str::to_owned),
                        tags,
                        rules: Vec::new(),
                    },
                    unreadable: Vec::new(),
                });
            }
        }
        let mut rules: HashMap<String, Vec<Result<GroupRule, String>>> = HashMap::new();
        let mut pages = self
            .client
            .describe_security_group_rules()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context("DescribeSecurityGroupRules")?;
            for rule in page.security_group_rules() {
                let item = fanin::aws::ec2::rule_item(rule);
                let read = item.to_rule().map_err(|e| {
                    format!(
                        "{}: {e}",
                        fanin::ids::truncate_for_message(&item.security_group_rule_id)
                    )
                });
                rules
                    .entry(rule.group_id().unwrap_or_default().to_owned())
                    .or_default()
                    .push(read);
            }
        }
        for group in &mut groups {
            for rule in rules.remove(&group.facts.group_id).unwrap_or_default() {
                match rule {
                    Ok(rule) => group.facts.rules.push(rule),
                    Err(why) => group.unreadable.push(why),
                }
            }
        }
        Ok(groups)
    }
}

/// The SDK configuration for `account`: the caller's own credentials for
/// its own account, else the read role's session.
async fn account_config(
    base: &SdkConfig,
    caller_account: &AccountId,
    partition: &str,
    account: &AccountId,
    args: &CheckArgs,
) -> anyhow::Result<SdkConfig> {
    if account == caller_account {
        return Ok(base.clone());
    }
    let from_env = std::env::var("FANIN_EXTERNAL_ID").ok();
    let Some(external_id) = args.external_id.as_ref().or(from_env.as_ref()) else {
        bail!(
            "account {account} is not the caller's ({caller_account}): give the read role's ExternalId (--external-id or FANIN_EXTERNAL_ID)"
        );
    };
    let role_arn = format!("arn:{partition}:iam::{account}:role/{}", args.role_name);
    let answer = aws_sdk_sts::Client::new(base)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("fanin-guard-check")
        .external_id(external_id)
        .send()
        .await
        .with_context(|| format!("AssumeRole {role_arn}"))?;
    let issued = answer
        .credentials()
        .with_context(|| format!("AssumeRole {role_arn}: no credentials"))?;
    let credentials = Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_owned()),
        None,
        "fanin-guard-check",
    );
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let text = read_policy_text(&args.policy)?;
    let policy = Policy::parse(&text)
        .map_err(|errors| anyhow::anyhow!("{}", render_problems(&args.policy, &errors.0)))?;
    let accounts = args
        .accounts
        .iter()
        .map(|raw| AccountId::parse(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let base = fanin::aws::load_sdk_config("fanin-cli").await;
    let mut regions = args
        .regions
        .iter()
        .map(|raw| Region::parse(raw))
        .collect::<Result<Vec<_>, _>>()?;
    if regions.is_empty() {
        let own = base
            .region()
            .context("no --region and no region in the AWS configuration")?;
        regions.push(Region::parse(own.as_ref())?);
    }
    let identity = aws_sdk_sts::Client::new(&base)
        .get_caller_identity()
        .send()
        .await
        .context("GetCallerIdentity")?;
    let caller_account = AccountId::parse(identity.account().unwrap_or_default())?;
    let partition = identity
        .arn()
        .and_then(|arn| arn.split(':').nth(1))
        .unwrap_or("aws")
        .to_owned();
    let accounts = if accounts.is_empty() {
        vec![caller_account.clone()]
    } else {
        accounts
    };
    let mut report = CheckReport {
        policy_digest: policy.digest.clone(),
        groups: Vec::new(),
    };
    for account in &accounts {
        let config = account_config(&base, &caller_account, &partition, account, &args).await?;
        for region in &regions {
            let regional = config
                .to_builder()
                .region(aws_config::Region::new(region.to_string()))
                .build();
            let groups = Ec2Groups::new(&regional)
                .groups(account, region)
                .await
                .with_context(|| format!("account {account} region {region}"))?;
            report.groups.extend(
                groups
                    .into_iter()
                    .map(|g| evaluate_group(&policy, &g.facts, g.unreadable)),
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", render_text(&report));
    }
    Ok(())
}
