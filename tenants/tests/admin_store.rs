//! The admin UI's rows in a tenant's store (SQLite here; the end-to-end admin API tests
//! run on both backends): the first admin and the seeded templates appear once, the last
//! admin cannot be deleted, one default per language, and a tenant migrated before the
//! admin tables existed gets them at the next start.

use chrono::Utc;
use xgate_tenants::store::{Database, DeleteAdmin, NewTemplate};

fn template(lang: &str, name: &str, is_default: bool) -> NewTemplate {
    NewTemplate {
        language: lang.into(),
        name: name.into(),
        subject: "s".into(),
        html: "<p>x</p>".into(),
        is_default,
    }
}

#[tokio::test]
async fn bootstrap_once_last_admin_and_one_default_per_language() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&format!("sqlite://{}", dir.path().display()), 2).unwrap();
    db.migrate_tenant("acme", "acme").await.unwrap();
    let store = db.tenant("acme", "acme");
    let now = Utc::now();

    assert!(
        store
            .bootstrap_admin(&[template("ru", "config", true)], now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .bootstrap_admin(&[template("ru", "config", true)], now)
            .await
            .unwrap()
    );
    let admins = store.admins().await.unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].login, "admin");
    assert_eq!(admins[0].password_hash, None);
    assert_eq!(store.templates().await.unwrap().len(), 1, "seeded once");

    assert_eq!(
        store.delete_admin("admin").await.unwrap(),
        DeleteAdmin::LastAdmin
    );
    assert!(
        store
            .insert_admin("maria", "M", "$hash", now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_admin("maria", "M", "$hash", now)
            .await
            .unwrap(),
        "unique"
    );
    assert_eq!(
        store.delete_admin("nobody").await.unwrap(),
        DeleteAdmin::NotFound
    );
    assert_eq!(
        store.delete_admin("admin").await.unwrap(),
        DeleteAdmin::Deleted
    );
    assert_eq!(
        store.delete_admin("maria").await.unwrap(),
        DeleteAdmin::LastAdmin
    );

    let first = store.default_template("ru").await.unwrap().unwrap();
    store
        .save_template("b", &template("ru", "second", true), false, "maria", now)
        .await
        .unwrap();
    let defaults: Vec<_> = store
        .templates()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.language == "ru" && t.is_default)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].id, "b");
    assert_ne!(first.id, "b");

    // Tokens: a password change and an explicit revoke both bump the version.
    let v0 = store.admin("maria").await.unwrap().unwrap().token_version;
    store.update_admin("maria", "M", None, now).await.unwrap();
    assert_eq!(
        store.admin("maria").await.unwrap().unwrap().token_version,
        v0
    );
    store
        .update_admin("maria", "M", Some("$new"), now)
        .await
        .unwrap();
    store.revoke_tokens("maria").await.unwrap();
    assert_eq!(
        store.admin("maria").await.unwrap().unwrap().token_version,
        v0 + 2
    );
    db.close().await;
}

/// A tenant file left at migration 1 (as every tenant was before the admin UI) is brought
/// to the latest at start: the catalog no longer lists it as current.
#[tokio::test]
async fn a_tenant_at_the_first_migration_gets_the_admin_tables() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().display());
    let db = Database::open(&url, 2).unwrap();
    let tenants = vec![("acme".to_string(), "acme".to_string())];
    assert!(db.migrate_tenants(&tenants).await.is_empty());
    db.close().await;

    // Back to the state after 0001: no admin tables, catalog at version 1.
    let file = dir.path().join("acme.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    for table in [
        "template_images",
        "templates",
        "admins",
        "audit_log",
        "admin_meta",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version > 1")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let catalog = dir.path().join("_catalog.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", catalog.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE tenants SET version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let db = Database::open(&url, 2).unwrap();
    assert!(db.migrate_tenants(&tenants).await.is_empty());
    let store = db.tenant("acme", "acme");
    assert!(store.bootstrap_admin(&[], Utc::now()).await.unwrap());
    assert_eq!(store.admins().await.unwrap().len(), 1);
    db.close().await;
}
