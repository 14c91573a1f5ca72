//! The manifest-directory source: located parse errors, per-file isolation, hot reload.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::fs;
use std::path::{Path, PathBuf};

use ingress_core::ObjectKey;
use ingress_k8s::{ManifestDirectory, ManifestError, ManifestObject, parse_manifest};

const SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n";

fn parse_error(file: &str, text: &str) -> ManifestError {
    parse_manifest(Path::new(file), text).expect_err("the manifest is broken")
}

#[test]
fn multi_document_yaml_skips_empty_documents_and_foreign_kinds() {
    let text = format!(
        "# leading comment\n---\n{SERVICE}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n---\n---   \napiVersion: v1\nkind: List\nitems:\n- {{apiVersion: v1, kind: Secret, metadata: {{name: s}}, type: Opaque}}\n- apiVersion: networking.k8s.io/v1\n  kind: IngressClass\n  metadata: {{name: c}}\n"
    );
    let objects = parse_manifest(Path::new("a.yaml"), &text).expect("valid");
    let summary: Vec<(usize, u64, &str)> = objects
        .iter()
        .map(|o| {
            let kind = match &o.object {
                ManifestObject::Service(_) => "Service",
                ManifestObject::Secret(_) => "Secret",
                ManifestObject::IngressClass(_) => "IngressClass",
                _ => "other",
            };
            (o.document, o.line, kind)
        })
        .collect();
    // Documents: 0 comment only, 1 Service (line 3), 2 Deployment, 3 empty, 4 List (items at lines 19, 20).
    assert_eq!(
        summary,
        vec![
            (1, 3, "Service"),
            (4, 19, "Secret"),
            (4, 20, "IngressClass")
        ]
    );
}

#[test]
fn type_error_reports_document_line_column_and_field() {
    let text = format!(
        "{SERVICE}---\n{}",
        SERVICE.replace("port: 80", "port: eighty")
    );
    let error = parse_error("svc.yaml", &text);
    assert_eq!(error.file, PathBuf::from("svc.yaml"));
    assert_eq!(error.document, Some(1));
    assert_eq!(error.position, Some((15, 11)));
    assert_eq!(error.field.as_deref(), Some("spec.ports[0].port"));
    let shown = error.to_string();
    assert!(
        shown.starts_with("svc.yaml: document 1: line 15, column 11: field spec.ports[0].port: "),
        "{shown}"
    );
}

#[test]
fn syntax_error_reports_its_position() {
    let error = parse_error(
        "bad.yml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: [web\n",
    );
    assert_eq!(error.document, Some(0));
    assert_eq!(error.position.map(|p| p.0), Some(4));
}

#[test]
fn missing_kind_and_unsupported_api_version_name_the_field() {
    let error = parse_error("a.yaml", "apiVersion: v1\nmetadata: {name: x}\n");
    assert_eq!(error.field.as_deref(), Some("kind"));
    let error = parse_error("a.yaml", "kind: Service\nmetadata: {name: x}\n");
    assert_eq!(error.field.as_deref(), Some("apiVersion"));
    let error = parse_error(
        "old.yaml",
        "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: x}\n",
    );
    assert_eq!(error.field.as_deref(), Some("apiVersion"));
    assert!(
        error.message.contains("networking.k8s.io/v1"),
        "{}",
        error.message
    );
}

#[test]
fn list_item_errors_point_at_the_item() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: ok}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: [1]}\n";
    let error = parse_error("list.yaml", text);
    assert_eq!(error.position, Some((7, 1)));
    assert_eq!(error.field.as_deref(), Some("items[1].metadata.name"));
}

#[test]
fn json_errors_report_line_column_and_field() {
    let text = "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"type\": \"kubernetes.io/tls\",\n \"metadata\": {\"name\": \"s\"},\n \"data\": {\"tls.crt\": \"!!not base64\"}}";
    let error = parse_error("secret.json", text);
    assert_eq!(error.document, Some(0));
    assert_eq!(error.position.map(|p| p.0), Some(3));
    assert_eq!(error.field.as_deref(), Some("data.tls.crt"));
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ingress-k8s-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    fn write(&self, name: &str, text: &str) {
        // Write then rename, as editors and `kubectl cp` do, so no reader sees half a file.
        let tmp = self.0.join(format!(".{name}.tmp"));
        fs::write(&tmp, text).expect("write");
        fs::rename(&tmp, self.0.join(name)).expect("rename");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: {port}}}]}}\n"
    )
}

#[test]
fn a_broken_file_keeps_its_previous_content_and_affects_nothing_else() {
    let temp = TempDir::new("isolation");
    temp.write("a.yaml", &service("a", 80));
    temp.write("b.yaml", &service("b", 81));
    temp.write("notes.txt", "not a manifest");
    let mut dir = ManifestDirectory::new(&temp.0);
    let reload = dir.reload();
    assert_eq!((reload.files, reload.errors.len()), (2, 0));

    temp.write(
        "a.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: x}]}\n",
    );
    temp.write("b.yaml", &service("b", 82));
    let reload = dir.reload();
    assert_eq!(reload.errors.len(), 1);
    assert!(reload.errors[0].file.ends_with("a.yaml"));
    let state = dir.state();
    assert_eq!(
        state.services[&ObjectKey::new("default", "a")].ports[0].port,
        80,
        "a keeps its last good content"
    );
    assert_eq!(
        state.services[&ObjectKey::new("default", "b")].ports[0].port,
        82,
        "b is updated"
    );

    // A conversion error (not just a syntax error) also fails only its file.
    temp.write(
        "c.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {ports: [{port: 0}]}\n",
    );
    let reload = dir.reload();
    let c_error = reload
        .errors
        .iter()
        .find(|e| e.file.ends_with("c.yaml"))
        .expect("c fails");
    assert_eq!(c_error.field.as_deref(), Some("spec.ports[0].port"));
    assert!(
        !dir.state()
            .services
            .contains_key(&ObjectKey::new("default", "c"))
    );

    fs::remove_file(temp.0.join("a.yaml")).expect("remove");
    fs::remove_file(temp.0.join("c.yaml")).expect("remove");
    let reload = dir.reload();
    assert!(reload.errors.is_empty());
    assert_eq!(
        dir.state().services.len(),
        1,
        "a deleted file's objects go away"
    );
}

#[cfg(feature = "watch")]
#[tokio::test]
async fn the_watched_directory_publishes_changes() {
    use std::time::Duration;

    use ingress_core::{TableConfig, table};
    use ingress_k8s::ManifestSource;

    let temp = TempDir::new("watch");
    temp.write("a.yaml", &service("a", 80));
    let (writer, reader) = table(TableConfig::default());
    let source = ManifestSource::new(&temp.0);
    let mut status = source.subscribe();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(source.run(writer, async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
        .await
        .expect("ready after the first read");
    let generation = reader.load().generation();

    temp.write("b.yaml", &service("b", 81));
    let wait = status.wait_for(|s| s.reloads >= 2 && s.generation > generation);
    let published = tokio::time::timeout(Duration::from_secs(1), wait)
        .await
        .is_ok();
    assert!(published, "the change is published within 1 s");
    assert!(reader.load().generation() > generation);

    temp.write("b.yaml", "kind: [");
    let wait = status.wait_for(|s| !s.errors.is_empty());
    let failed = tokio::time::timeout(Duration::from_secs(1), wait)
        .await
        .expect("reported in time")
        .expect("source running")
        .clone();
    assert!(failed.errors[0].file.ends_with("b.yaml"));

    let _ = stop.send(());
    task.await.expect("join").expect("watcher ran");
}
