//! One contract suite per port the store path depends on, run against the
//! in-memory fake and against the real adapter on the local stack (S3 on
//! moto, OpenSearch on osmem-server), so the fakes cannot drift from what the
//! servers answer.

use std::sync::Arc;

use fanin::config::{Encryption, SearchAuth};
use fanin::fakes::InMemory;
use fanin::ids::{AccountId, Partition, Region};
use fanin::ports::{
    AccountSession, CallError, IndexCreation, NetworkInventory, ObjectKind, ObjectStore,
    SearchIndexer, SessionProvider,
};
use fanin::search::bulk::{self, BulkOp, ItemOutcome};
use fanin_devstack::scenario::LocalStack;

/// What every [`ObjectStore`] must do.
async fn object_store_contract(store: &dyn ObjectStore) {
    assert!(!store.object_exists("findings/a.json.gz").await.unwrap());
    assert_eq!(store.get_object("state/none.json").await.unwrap(), None);
    store
        .put_object("state/list.json", b"{\"a\":1}".to_vec(), ObjectKind::Json)
        .await
        .unwrap();
    // The same key and body again: idempotent.
    store
        .put_object("state/list.json", b"{\"a\":1}".to_vec(), ObjectKind::Json)
        .await
        .unwrap();
    assert!(store.object_exists("state/list.json").await.unwrap());
    assert_eq!(
        store
            .get_object("state/list.json")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
}

async fn send(search: &dyn SearchIndexer, ops: &[BulkOp]) -> Vec<ItemOutcome> {
    let body = bulk::encode(ops, usize::MAX).remove(0).body;
    let statuses = search.bulk(body).await.unwrap();
    // The answer names each op's action and `_id`, in order.
    bulk::outcomes(&ops.iter().collect::<Vec<_>>(), &statuses).unwrap()
}

/// What every [`SearchIndexer`] must do, as fanin's store path relies on it.
async fn search_indexer_contract(search: &dyn SearchIndexer, index: &str) {
    // A missing index answers no documents, not an error.
    assert!(
        search
            .get_documents(index, &["v1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    let doc = |text: &str| -> Arc<str> { format!("{{\"state\":\"{text}\"}}").into() };
    let latest = |version| BulkOp::IndexLatest {
        index: index.into(),
        id: "f".into(),
        version,
        document: doc("latest"),
    };
    let create = |id: &str| BulkOp::CreateOnce {
        index: index.into(),
        id: id.into(),
        document: doc("claimed"),
    };
    // External versions: newer wins, equal or older conflicts. Create: once.
    assert_eq!(
        send(
            search,
            &[
                latest(5),
                latest(5),
                latest(4),
                latest(6),
                create("v1"),
                create("v1")
            ]
        )
        .await,
        vec![
            ItemOutcome::Done,
            ItemOutcome::Conflict,
            ItemOutcome::Conflict,
            ItemOutcome::Done,
            ItemOutcome::Done,
            ItemOutcome::Conflict,
        ]
    );
    // The stored document comes back with what a conditional write needs.
    let found = search
        .get_documents(index, &["v1".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let claim = &found["v1"];
    assert_eq!(claim.source["state"], "claimed");
    let replace = |seq_no| BulkOp::ReplaceIfUnchanged {
        index: index.into(),
        id: "v1".into(),
        seq_no,
        primary_term: claim.primary_term,
        document: doc("taken"),
    };
    // Only the first of two writers that read the same seq_no wins.
    assert_eq!(
        send(search, &[replace(claim.seq_no), replace(claim.seq_no)]).await,
        vec![ItemOutcome::Done, ItemOutcome::Conflict]
    );
    let put = BulkOp::Put {
        index: index.into(),
        id: "v1".into(),
        document: doc("archived"),
    };
    let delete = |id: &str| BulkOp::Delete {
        index: index.into(),
        id: id.into(),
    };
    assert_eq!(
        send(search, &[put, delete("gone"), delete("v1"), delete("v1")]).await,
        vec![ItemOutcome::Done; 4],
        "a delete of an absent document is done (404)"
    );
    assert!(
        search
            .get_documents(index, &["v1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    // Write aliases: created with their first index (a second creation is
    // an answer, not an error), written and read through like an index.
    let alias = format!("{index}-alias");
    let first = format!("{alias}-000001");
    assert!(!search.index_exists(&alias).await.unwrap());
    let with_alias = serde_json::json!({"aliases": {&alias: {"is_write_index": true}}});
    assert_eq!(
        search.create_index(&first, &with_alias).await.unwrap(),
        IndexCreation::Created
    );
    assert_eq!(
        search.create_index(&first, &with_alias).await.unwrap(),
        IndexCreation::AlreadyExists
    );
    assert!(search.index_exists(&alias).await.unwrap());
    assert!(search.index_exists(&first).await.unwrap());
    let through = |version| BulkOp::IndexLatest {
        index: alias.clone(),
        id: "f".into(),
        version,
        document: doc("latest"),
    };
    let history = BulkOp::CreateOnce {
        index: alias.clone(),
        id: "h1".into(),
        document: doc("version"),
    };
    assert_eq!(
        send(search, &[through(2), through(1), history.clone(), history]).await,
        vec![
            ItemOutcome::Done,
            ItemOutcome::Conflict,
            ItemOutcome::Done,
            ItemOutcome::Conflict,
        ]
    );
    assert_eq!(
        search
            .get_documents(&alias, &["f".into(), "h1".into()])
            .await
            .unwrap()
            .len(),
        2
    );
    // An alias cannot take an index's name, nor an index an alias's.
    let taken = serde_json::json!({"aliases": {index: {}}});
    assert!(matches!(
        search.create_index(&format!("{index}-other"), &taken).await,
        Err(CallError::Rejected { .. })
    ));
    assert!(matches!(
        search.create_index(&alias, &serde_json::json!({})).await,
        Err(CallError::Rejected { .. })
    ));

    // A negative external version makes the cluster refuse the whole
    // request: the pipeline's split relies on a permanent error here.
    let refused = search
        .bulk(bulk::encode(&[latest(-1)], usize::MAX).remove(0).body)
        .await
        .unwrap_err();
    assert!(!refused.is_transient(), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fakes_keep_the_port_contracts() {
    let world = InMemory::default();
    object_store_contract(&world).await;
    search_indexer_contract(&world, "contract-ledger").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_adapters_keep_the_port_contracts() {
    let stack = LocalStack::start().await.unwrap();
    let config = stack.moto_config("us-east-1", None);
    let s3 = aws_sdk_s3::Client::new(&config);
    s3.create_bucket()
        .bucket("fanin-contract")
        .send()
        .await
        .unwrap();
    let objects = fanin::aws::s3::S3Objects::new(
        &config,
        "fanin-contract".into(),
        Encryption::S3Managed,
        true,
    );
    object_store_contract(&objects).await;

    let url = url::Url::parse(&stack.osmem.url).unwrap();
    let search =
        fanin::search::opensearch::OpenSearchIndexer::new(&url, &SearchAuth::None, None, None)
            .unwrap();
    search_indexer_contract(&search, "contract-ledger").await;
}

/// What every [`SessionProvider`] must do: a session acting in a member
/// account whose role trusts fanin, `Denied` where there is no such role.
async fn session_provider_contract(
    sessions: &dyn SessionProvider,
    member: &AccountId,
    without_role: &AccountId,
) {
    let session = sessions.session(member).await.unwrap();
    assert_eq!(&session.account, member);
    let refused = sessions.session(without_role).await.unwrap_err();
    assert!(
        matches!(refused, CallError::Denied { .. }),
        "a missing role is denied, not {refused}"
    );
}

/// What every [`NetworkInventory`] must do: known ids answered with their
/// network, unknown ids left out (not an error).
async fn network_inventory_contract(
    inventory: &dyn NetworkInventory,
    session: &AccountSession,
    region: &Region,
    instance_id: &str,
    group_id: &str,
) {
    let unknown_instance = "i-0fffffffffffffff0".to_owned();
    let instances = inventory
        .describe_instances(session, region, &[instance_id.to_owned(), unknown_instance])
        .await
        .unwrap();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0].instance_id, instance_id);
    assert!(
        instances[0]
            .interfaces
            .iter()
            .any(|i| i.security_groups.iter().any(|g| g.id == group_id)),
        "{instances:?}"
    );
    let groups = inventory
        .describe_security_groups(
            session,
            region,
            &[group_id.to_owned(), "sg-0fffffffffffffff0".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].group_id, group_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_and_the_real_sessions_and_inventory_keep_their_contracts() {
    const MEMBER: &str = "111111111111";
    const WITHOUT_ROLE: &str = "222222222222";
    const REGION: &str = "us-east-1";
    let member = AccountId::parse(MEMBER).unwrap();
    let without_role = AccountId::parse(WITHOUT_ROLE).unwrap();
    let region = Region::parse(REGION).unwrap();

    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[MEMBER], &[REGION])
        .await
        .unwrap();
    let facts = fanin_devstack::scenario::create_workloads(&stack, MEMBER, REGION, 1)
        .await
        .unwrap();
    let instance = &facts[0];
    let group = &instance.security_group_ids[0];

    // The real adapters, through the gateway (which enforces the role and
    // its ExternalId as IAM does).
    let config = fanin_devstack::scenario::sdk_config(&stack.gateway.aws_url, REGION, None);
    let sts = fanin::aws::sts::StsSessions::new(
        &config,
        Partition::parse("aws").unwrap(),
        deployed.central.read_role_name.clone(),
        deployed.central.external_id.clone(),
        std::time::Duration::from_secs(900),
    );
    session_provider_contract(&sts, &member, &without_role).await;
    let session = sts.session(&member).await.unwrap();
    let ec2 = fanin::aws::ec2::Ec2Inventory::new(config.clone());
    network_inventory_contract(&ec2, &session, &region, &instance.instance_id, group).await;

    // The fake, holding what the real inventory answered.
    let mut world = InMemory::default();
    world.denied_accounts.insert(WITHOUT_ROLE.into());
    for record in ec2
        .describe_instances(
            &session,
            &region,
            std::slice::from_ref(&instance.instance_id),
        )
        .await
        .unwrap()
    {
        world.instances.insert(record.instance_id.clone(), record);
    }
    for record in ec2
        .describe_security_groups(&session, &region, std::slice::from_ref(group))
        .await
        .unwrap()
    {
        world.groups.insert(record.group_id.clone(), record);
    }
    session_provider_contract(&world, &member, &without_role).await;
    let fake_session = world.session(&member).await.unwrap();
    network_inventory_contract(&world, &fake_session, &region, &instance.instance_id, group).await;
}
