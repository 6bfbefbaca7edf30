//! Each test gets a fresh database with every migration applied (see zerodown's docs/testing.md).

#[tokio::test]
async fn the_price_list_is_cheapest_first() {
    let db = zerodown::localdb::fresh_database("shop_app")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    zerodown::Migrator::new(migrations::MIGRATIONS)
        .unwrap()
        .run_and_complete(&db.connect_options())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = db.pool().await.unwrap();
    shop_app::add_product(&pool, "b-1", "Kettle", 2_500)
        .await
        .unwrap();
    shop_app::add_product(&pool, "a-1", "Mug", 700)
        .await
        .unwrap();
    let list = shop_app::price_list(&pool).await.unwrap();
    assert_eq!(
        list,
        [("Mug".to_owned(), 700), ("Kettle".to_owned(), 2_500)]
    );
    pool.close().await;
    db.drop_database().await.unwrap();
}
