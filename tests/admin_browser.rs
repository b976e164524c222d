//! The admin UI in a real headless Chromium: first login and password, an admin added, a
//! template made in the visual editor (a placeholder from the toolbar, bold text), the
//! live preview with the sample link, save, the meetings API rendering that template, the
//! audit log, English, log out. Screenshots of each page go to `target/admin-ui/`.

use base64::Engine as _;
use fantoccini::key::Key;
use xgate_tests::browser::{Browser, screenshots_dir};
use xgate_tests::{Backend, BotSim, TenantSpec, XgateSpec};

const PASSWORD: &str = "a long enough password";
/// A 1×1 PNG.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_password_adds_an_admin_and_edits_the_template_meetings_use() {
    let sim = BotSim::bearer();
    let gw = XgateSpec::new(Backend::Sqlite)
        .tenant(
            TenantSpec::new("acme", "ACME", &["acme.test"])
                .own_port()
                .bot(&sim)
                .jwt("the browser test's key, 32 bytes or more"),
        )
        .start();
    let b = Browser::start().await;
    let front = format!("http://{}/front", gw.tenant_addr("acme"));
    b.client.goto(&front).await.expect("open /front");

    // First login: `admin`, empty password, then only the password page.
    b.find("#login-name").await;
    b.screenshot("01-login").await;
    b.find("#login-submit").await.click().await.unwrap();
    b.find("#new-password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#new-password-confirm")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.screenshot("02-set-password").await;
    b.find("#password-submit").await.click().await.unwrap();
    b.find("#template-new").await;
    b.screenshot("03-templates").await;

    // Another admin.
    b.find("a[href='#admins']").await.click().await.unwrap();
    b.find("#admin-login")
        .await
        .send_keys("maria")
        .await
        .unwrap();
    b.find("#admin-name")
        .await
        .send_keys("Мария Иванова")
        .await
        .unwrap();
    b.find("#admin-password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#admin-password-confirm")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#admin-submit").await.click().await.unwrap();
    b.until(
        "maria in the list",
        "document.querySelector('table.list').textContent.includes('Мария Иванова')",
    )
    .await;
    b.screenshot("04-admins").await;

    // A template: text, a placeholder from the toolbar, all of it bold.
    b.find("a[href='#templates']").await.click().await.unwrap();
    b.find("#template-new").await.click().await.unwrap();
    b.find("#tpl-name")
        .await
        .send_keys("Из браузера")
        .await
        .unwrap();
    b.find("#tpl-subject")
        .await
        .send_keys("Встреча {{ conference.name }}")
        .await
        .unwrap();
    b.find("#tpl-default").await.click().await.unwrap();
    let editor = b.find("#editor").await;
    editor.click().await.unwrap();
    editor.send_keys("Присоединяйтесь: ").await.unwrap();
    b.find("[data-placeholder='conference.link']")
        .await
        .click()
        .await
        .unwrap();
    editor
        .send_keys(&format!("{}a", char::from(Key::Control)))
        .await
        .unwrap();
    b.find("#tool-bold").await.click().await.unwrap();
    b.until(
        "bold text",
        "document.getElementById('editor').innerHTML.includes('<b>')",
    )
    .await;
    b.until(
        "the preview with the sample link",
        "document.getElementById('preview').srcdoc.includes('https://xlnk.ms/join/sample/')",
    )
    .await;
    b.screenshot("05-editor").await;
    b.find("#tool-source").await.click().await.unwrap();
    b.until(
        "the HTML source",
        "document.getElementById('source').value.includes('{{ conference.link }}')",
    )
    .await;
    b.screenshot("06-editor-source").await;
    b.find("#template-save").await.click().await.unwrap();
    b.until("saved", "/^#template\\/[0-9a-f]{32}$/.test(location.hash)")
        .await;

    // A logo, uploaded and put in from the toolbar: shown in the editor, inline in the letter.
    let png = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    std::fs::write(
        png.path(),
        base64::engine::general_purpose::STANDARD
            .decode(PNG_1X1)
            .unwrap(),
    )
    .unwrap();
    b.find("#image-logo")
        .await
        .send_keys(&png.path().display().to_string())
        .await
        .unwrap();
    b.until(
        "the upload",
        "document.getElementById('status').textContent.includes('✓')",
    )
    .await;
    b.find("#editor").await.click().await.unwrap();
    b.find("#tool-logo").await.click().await.unwrap();
    b.until(
        "the logo in the editor",
        "document.querySelector('#editor img[data-xgate-image=logo]') && document.querySelector('#editor img[data-xgate-image=logo]').complete && document.querySelector('#editor img[data-xgate-image=logo]').naturalWidth === 1",
    )
    .await;
    b.until(
        "the logo in the preview",
        "document.getElementById('preview').srcdoc.includes('data:image/png;base64,')",
    )
    .await;
    b.find("#template-save").await.click().await.unwrap();
    b.until("saved again", "document.getElementById('status').textContent.length > 0 && !!document.querySelector('#editor img[data-xgate-image=logo]')").await;
    b.screenshot("06b-editor-with-logo").await;

    // The meetings API now renders it.
    let meeting = gw
        .on_port("acme")
        .as_user("anna@acme.test")
        .create_meeting("anna@acme.test")
        .await;
    let html = meeting["invitation"]["html"].as_str().unwrap();
    let link = meeting["link"].as_str().unwrap();
    assert!(html.contains("Присоединяйтесь"), "{html}");
    assert!(html.contains("<b>"), "{html}");
    assert!(html.contains(link), "{html}");
    assert!(html.contains("src=\"data:image/png;base64,iVBOR"), "{html}");
    let subject = meeting["invitation"]["subject"].as_str().unwrap();
    let name = meeting["name"].as_str().unwrap_or_default();
    assert_eq!(subject, format!("Встреча {name}").trim(), "{meeting}");

    // The audit log, then English.
    b.find("a[href='#audit']").await.click().await.unwrap();
    b.until("the audit log", "document.querySelector('table.list') && document.querySelector('table.list').textContent.includes('template_created')").await;
    b.screenshot("07-audit").await;
    b.client
        .execute("const s = document.getElementById('lang'); s.value = 'en'; s.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    b.until(
        "English",
        "document.querySelector(\"a[href='#templates']\").textContent === 'Templates'",
    )
    .await;
    b.screenshot("08-audit-en").await;

    // Log out: the login form again, and the old session is gone after a reload.
    b.find("#logout").await.click().await.unwrap();
    b.find("#login-name").await;
    b.client.goto(&front).await.unwrap();
    b.find("#login-name").await;
    b.close().await;
    for shot in ["01-login", "03-templates", "05-editor", "07-audit"] {
        assert!(
            screenshots_dir().join(format!("{shot}.png")).is_file(),
            "{shot}"
        );
    }
}
