//! The load run at CI size: 1,200 findings from 4 accounts x 3 regions
//! through the whole deployed pipeline, EventBridge included, reconcile
//! exactly (the 100,000-finding run is `fanin-devstack load`, figures in
//! docs/benchmarks.md).

use fanin_devstack::load::{self, Emission, LoadPlan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_load_reconciles_exactly() {
    let plan = LoadPlan {
        accounts: 4,
        findings: 1_200,
        instances_per_region: 2,
        via: Emission::EventBridge,
        ..LoadPlan::full()
    };
    let report = load::run(&plan).await.unwrap();
    assert_eq!(
        (
            report.findings_indexed,
            report.archived_records,
            report.archived_versions
        ),
        (1_200, 1_200, 1_200)
    );
    assert_eq!((report.quarantined, report.dead_letter_messages), (0, 0));
    assert!(
        report.aws_calls_per_finding < 0.5,
        "AWS calls per finding: {report:?}"
    );
}
