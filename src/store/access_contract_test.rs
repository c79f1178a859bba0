//! The same assertions on every backend's `AccessStore`: what the HTTP layer relies on.

use std::sync::Arc;

use crate::domain::{
    ApiKey, Segment, SegmentFilter, SegmentName, SiteId, Timestamp, generate_token,
};
use crate::store::{AccessStore, SegmentSaved};

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

fn segment(name: &str) -> Segment {
    Segment {
        name: SegmentName::parse(name).unwrap(),
        description: format!("about {name}"),
        filters: vec![SegmentFilter {
            op: "is".into(),
            dimension: "visit:country".into(),
            values: vec!["DE".into(), "FR".into()],
        }],
    }
}

/// Keys, segments, operator tokens, the session secret and the query log, as the server uses
/// them.
pub(crate) async fn holds_what_the_server_relies_on(store: &dyn AccessStore) {
    // Keys: by id, by site oldest first, revocation kept.
    let (mut old, _) = ApiKey::generate(site("shop"), "old".into(), Timestamp(1), None, [1; 40]);
    let (new, _) = ApiKey::generate(
        site("shop"),
        "new".into(),
        Timestamp(2),
        Some(Timestamp(9)),
        [2; 40],
    );
    let (other, _) = ApiKey::generate(site("blog"), "".into(), Timestamp(3), None, [3; 40]);
    for k in [&new, &old, &other] {
        store.put_key(k.clone()).await.unwrap();
    }
    assert_eq!(store.key(old.id.clone()).await.unwrap(), Some(old.clone()));
    old.revoked_at = Some(Timestamp(5));
    store.put_key(old.clone()).await.unwrap();
    assert_eq!(store.key(old.id.clone()).await.unwrap(), Some(old.clone()));
    assert_eq!(
        store.keys(site("shop")).await.unwrap(),
        vec![old.clone(), new.clone()]
    );
    let (unknown, _) = ApiKey::generate(site("shop"), "".into(), Timestamp(0), None, [4; 40]);
    assert_eq!(store.key(unknown.id).await.unwrap(), None);

    // Segments: created, replaced, listed by name, limited per site, deleted.
    assert_eq!(
        store.put_segment(site("shop"), segment("b")).await.unwrap(),
        SegmentSaved::Created
    );
    assert_eq!(
        store.put_segment(site("shop"), segment("a")).await.unwrap(),
        SegmentSaved::Created
    );
    let mut replaced = segment("b");
    replaced.description = "changed".into();
    assert_eq!(
        store
            .put_segment(site("shop"), replaced.clone())
            .await
            .unwrap(),
        SegmentSaved::Replaced
    );
    assert_eq!(
        store.segments(site("shop")).await.unwrap(),
        vec![segment("a"), replaced.clone()]
    );
    assert_eq!(
        store
            .segment(site("shop"), SegmentName::parse("b").unwrap())
            .await
            .unwrap(),
        Some(replaced)
    );
    assert!(store.segments(site("blog")).await.unwrap().is_empty());
    for n in 2..Segment::MAX_PER_SITE {
        let saved = store
            .put_segment(site("shop"), segment(&format!("s{n:03}")))
            .await
            .unwrap();
        assert_eq!(saved, SegmentSaved::Created);
    }
    assert_eq!(
        store
            .put_segment(site("shop"), segment("one-too-many"))
            .await
            .unwrap(),
        SegmentSaved::LimitReached
    );
    assert!(
        store
            .delete_segment(site("shop"), SegmentName::parse("a").unwrap())
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_segment(site("shop"), SegmentName::parse("a").unwrap())
            .await
            .unwrap()
    );

    // Operator tokens and the session secret.
    let (digest, _) = generate_token([6; 32]);
    store
        .add_operator_token(digest, Timestamp(7))
        .await
        .unwrap();
    assert_eq!(
        store.operator_tokens().await.unwrap(),
        vec![(digest, Timestamp(7))]
    );
    assert!(store.remove_operator_token(digest).await.unwrap());
    assert!(store.operator_tokens().await.unwrap().is_empty());
    let secret = store.session_secret().await.unwrap();
    assert_eq!(store.session_secret().await.unwrap(), secret);

    // The query log, oldest first.
    store
        .log_query(Timestamp(20), "second".into())
        .await
        .unwrap();
    store
        .log_query(Timestamp(10), "first".into())
        .await
        .unwrap();
    assert_eq!(store.query_log().await.unwrap(), vec!["first", "second"]);
}

#[tokio::test(flavor = "current_thread")]
async fn the_sled_access_store_holds_what_the_server_relies_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::open(
        &crate::settings::Settings::demo(dir.path().to_path_buf()),
        Arc::new(crate::telemetry::Metrics::default()),
    )
    .unwrap();
    holds_what_the_server_relies_on(&*store.access()).await;
}

#[test]
fn the_postgres_access_store_holds_what_the_server_relies_on() {
    let url = crate::store::postgres::test_cluster::database();
    crate::store::postgres::open_blocking(&url).unwrap();
    let pool = Arc::new(crate::store::postgres::pool::Pool::connect(&url, 2).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = crate::store::postgres::access::PgAccess::new(pool);
        holds_what_the_server_relies_on(&store).await;
    });
}
