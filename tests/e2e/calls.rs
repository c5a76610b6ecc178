//! API calls per batch do not grow with the batch: at most one AssumeRole
//! (none when cached), one DescribeFindings per 10 findings, and two EC2
//! calls per (account, region), counted by the gateway at the wire.

use fanin_devstack::scenario::{self, LocalStack};

use crate::mapping;

const ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";
const CALLER: &str = "fanin-collector";

fn calls(stack: &LocalStack, service: &str, operation: &str) -> u64 {
    stack.gateway.call_count(CALLER, service, operation)
}

fn ec2_calls(stack: &LocalStack) -> u64 {
    stack
        .gateway
        .calls()
        .iter()
        .filter(|c| c.caller == CALLER && c.service == "ec2")
        .map(|c| c.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_classic_findings_costs_a_constant_number_of_calls() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[ACCOUNT], &[REGION])
        .await
        .unwrap();
    scenario::create_workloads(&stack, ACCOUNT, REGION, 5)
        .await
        .unwrap();
    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;

    let template = scenario::setup_classic(&stack, &deployed, ACCOUNT, REGION)
        .await
        .unwrap();
    for (round, expected_assume_role) in [(0, 1), (1, 0)] {
        // A run over 5 instances with 2 findings each: one batch of ten.
        let findings = scenario::complete_classic_run(&stack, ACCOUNT, REGION, &template, 2)
            .await
            .unwrap();
        assert_eq!(findings.len(), 10);
        stack.gateway.reset_calls();
        let mut batch = Default::default();
        let delivered = esm.round(&mut collector, &mut batch).await.unwrap();
        assert_eq!(delivered, 10, "one batch of ten findings");
        assert_eq!(
            calls(&stack, "sts", "AssumeRole"),
            expected_assume_role,
            "round {round}"
        );
        assert_eq!(
            calls(&stack, "inspector", "DescribeFindings"),
            1,
            "round {round}"
        );
        assert_eq!(
            calls(&stack, "ec2", "DescribeInstances"),
            1,
            "round {round}"
        );
        assert_eq!(
            calls(&stack, "ec2", "DescribeSecurityGroups"),
            1,
            "round {round}"
        );
        assert_eq!(ec2_calls(&stack), 2, "round {round}");
        assert_eq!(
            calls(&stack, "s3", "PutObject"),
            1,
            "one object for the (account, region) group"
        );
        esm.drain(&mut collector, scenario::DRAIN_LIMIT)
            .await
            .unwrap();
    }
}
