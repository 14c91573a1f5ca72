//! One manifest file → typed `k8s-openapi` objects, with errors that point at the spot.
//!
//! YAML files are split into documents the way kubectl splits them (a line that is exactly
//! `---`, trailing whitespace allowed), so a document's line numbers can be made file-relative.
//! Each document is read twice: once for `apiVersion`/`kind` only, then straight into the
//! `k8s-openapi` type (through `serde_path_to_error`, which names the field), so a type error
//! carries the parser's own line and column. `kind: List` items are parsed from their values,
//! with the item's line from the parser's spans.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A Kubernetes object the route table reads, as parsed from a manifest.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived: converted right after parsing
pub enum ManifestObject {
    /// networking.k8s.io/v1 `Ingress`.
    Ingress(net::Ingress),
    /// networking.k8s.io/v1 `IngressClass`.
    IngressClass(net::IngressClass),
    /// v1 `Service`.
    Service(core::Service),
    /// discovery.k8s.io/v1 `EndpointSlice`.
    EndpointSlice(discovery::EndpointSlice),
    /// Legacy v1 `Endpoints`.
    Endpoints(core::Endpoints),
    /// v1 `Secret` (of any type; only `kubernetes.io/tls` ones are used).
    Secret(core::Secret),
    /// v1 `ConfigMap` (only the one named by `--configmap` is used).
    ConfigMap(core::ConfigMap),
}

/// One object of a manifest file and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedObject {
    /// 0-based index of the document in the file (for `kind: List`, of the List document).
    pub document: usize,
    /// 1-based line where the object starts.
    pub line: u64,
    /// The object.
    pub object: ManifestObject,
}

/// Why a manifest file was skipped: file, document, position and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The file.
    pub file: PathBuf,
    /// 0-based document index within the file (`None`: the file as a whole, e.g. unreadable).
    pub document: Option<usize>,
    /// 1-based line and column, when known.
    pub position: Option<(u64, u64)>,
    /// The field at fault (`spec.rules[0].http.paths[0].pathType`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(document) = self.document {
            write!(f, ": document {document}")?;
        }
        if let Some((line, column)) = self.position {
            write!(f, ": line {line}, column {column}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The header every object has.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
}

/// A `kind: List` document, items still untyped.
#[derive(Deserialize)]
struct YamlList {
    #[serde(default)]
    items: Vec<serde_saphyr::Spanned<serde_json::Value>>,
}

#[derive(Deserialize)]
struct JsonList {
    #[serde(default)]
    items: Vec<serde_json::Value>,
}

/// A failure inside one document, relative to that document.
struct Failure {
    position: Option<(u64, u64)>,
    field: Option<String>,
    message: String,
}

/// Which typed object a header asks for; `Ok(None)` for kinds the route table does not read.
enum Kind {
    Ingress,
    IngressClass,
    Service,
    EndpointSlice,
    Endpoints,
    Secret,
    ConfigMap,
    List,
}

/// Whether a file name is a manifest (`*.yaml`, `*.yml`, `*.json`; hidden files skipped).
pub fn is_manifest_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_none_or(|name| name.starts_with('.'));
    let extension = path.extension().and_then(|e| e.to_str());
    !hidden && matches!(extension, Some("yaml" | "yml" | "json"))
}

/// Parses one manifest file. Kinds the route table does not read (a Deployment next to its
/// Service) are skipped; any error fails the whole file.
pub fn parse_manifest(file: &Path, text: &str) -> Result<Vec<ParsedObject>, ManifestError> {
    let is_json = file.extension().and_then(|e| e.to_str()) == Some("json");
    let error = |document: usize, failure: Failure| ManifestError {
        file: file.to_owned(),
        document: Some(document),
        position: failure.position,
        field: failure.field,
        message: failure.message,
    };
    let mut objects = Vec::new();
    if is_json {
        parse_document(text, 0, 0, true, &mut objects).map_err(|f| error(0, f))?;
    } else {
        for (document, (first_line, body)) in split_documents(text).into_iter().enumerate() {
            parse_document(body, document, first_line, false, &mut objects)
                .map_err(|f| error(document, f))?;
        }
    }
    Ok(objects)
}

/// Splits YAML text into documents: `(lines before the document, document text)`.
fn split_documents(text: &str) -> Vec<(u64, &str)> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut offset = 0;
    for (line_number, line) in (0u64..).zip(text.split_inclusive('\n')) {
        let is_separator = line.starts_with("---") && line[3..].trim().is_empty();
        if is_separator {
            documents.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = line_number + 1;
        }
        offset += line.len();
    }
    documents.push((start_line, &text[start..]));
    documents
}

fn parse_document(
    body: &str,
    document: usize,
    line_offset: u64,
    is_json: bool,
    objects: &mut Vec<ParsedObject>,
) -> Result<(), Failure> {
    let shift = |failure: Failure| Failure {
        position: failure.position.map(|(l, c)| (l + line_offset, c)),
        ..failure
    };
    let header: Option<Header> = if is_json {
        Some(typed_json(body)?)
    } else {
        typed_yaml(body).map_err(shift)?
    };
    // An empty document (comments only, or a trailing `---`) holds no object.
    let Some(header) = header else {
        return Ok(());
    };
    let Some(kind) = kind_of(&header)? else {
        return Ok(());
    };
    let line = line_offset + first_content_line(body);
    if let Kind::List = kind {
        let items: Vec<(u64, serde_json::Value)> = if is_json {
            let list: JsonList = typed_json(body)?;
            list.items.into_iter().map(|item| (line, item)).collect()
        } else {
            let list: YamlList = typed_yaml(body).map_err(shift)?;
            list.items
                .into_iter()
                .map(|item| (item.referenced.line() + line_offset, item.value))
                .collect()
        };
        for (index, (item_line, value)) in items.into_iter().enumerate() {
            let at_item = |failure: Failure| Failure {
                position: Some((item_line, 1)),
                field: Some(match failure.field {
                    Some(field) => format!("items[{index}].{field}"),
                    None => format!("items[{index}]"),
                }),
                message: failure.message,
            };
            let header: Header = typed_value(value.clone()).map_err(at_item)?;
            let object = match kind_of(&header).map_err(at_item)? {
                None => continue,
                Some(Kind::List) => {
                    return Err(at_item(Failure {
                        position: None,
                        field: Some("kind".into()),
                        message: "a List inside a List is not supported".into(),
                    }));
                }
                Some(kind) => typed_object(kind, value).map_err(at_item)?,
            };
            objects.push(ParsedObject {
                document,
                line: item_line,
                object,
            });
        }
        return Ok(());
    }
    let object = if is_json {
        typed_object(kind, body)?
    } else {
        typed_object(kind, YamlText(body)).map_err(shift)?
    };
    objects.push(ParsedObject {
        document,
        line,
        object,
    });
    Ok(())
}

/// The 1-based line of the first non-blank, non-comment line of a document.
fn first_content_line(body: &str) -> u64 {
    (1u64..)
        .zip(body.lines())
        .find(|(_, line)| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#')
        })
        .map_or(1, |(number, _)| number)
}

fn kind_of(header: &Header) -> Result<Option<Kind>, Failure> {
    let invalid = |field: &str, message: String| Failure {
        position: None,
        field: Some(field.to_owned()),
        message,
    };
    let Some(kind) = header.kind.as_deref() else {
        return Err(invalid("kind", "is required".into()));
    };
    let Some(api_version) = header.api_version.as_deref() else {
        return Err(invalid("apiVersion", "is required".into()));
    };
    let (expected, kind) = match kind {
        "Ingress" => ("networking.k8s.io/v1", Kind::Ingress),
        "IngressClass" => ("networking.k8s.io/v1", Kind::IngressClass),
        "Service" => ("v1", Kind::Service),
        "EndpointSlice" => ("discovery.k8s.io/v1", Kind::EndpointSlice),
        "Endpoints" => ("v1", Kind::Endpoints),
        "Secret" => ("v1", Kind::Secret),
        "ConfigMap" => ("v1", Kind::ConfigMap),
        "List" => ("v1", Kind::List),
        _ => return Ok(None),
    };
    if api_version != expected {
        return Err(invalid(
            "apiVersion",
            format!(
                "{api_version:?} is not supported for {kind_name}: use {expected:?}",
                kind_name = header.kind.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(Some(kind))
}

/// Something a typed object can be read from: YAML text, JSON text or an untyped value.
trait Source {
    fn read<T: DeserializeOwned>(self) -> Result<T, Failure>;
}

struct YamlText<'a>(&'a str);

impl Source for YamlText<'_> {
    fn read<T: DeserializeOwned>(self) -> Result<T, Failure> {
        typed_yaml(self.0)
    }
}

impl Source for &str {
    fn read<T: DeserializeOwned>(self) -> Result<T, Failure> {
        typed_json(self)
    }
}

impl Source for serde_json::Value {
    fn read<T: DeserializeOwned>(self) -> Result<T, Failure> {
        typed_value(self)
    }
}

fn typed_object(kind: Kind, source: impl Source) -> Result<ManifestObject, Failure> {
    Ok(match kind {
        Kind::Ingress => ManifestObject::Ingress(source.read()?),
        Kind::IngressClass => ManifestObject::IngressClass(source.read()?),
        Kind::Service => ManifestObject::Service(source.read()?),
        Kind::EndpointSlice => ManifestObject::EndpointSlice(source.read()?),
        Kind::Endpoints => ManifestObject::Endpoints(source.read()?),
        Kind::Secret => ManifestObject::Secret(source.read()?),
        Kind::ConfigMap => ManifestObject::ConfigMap(source.read()?),
        Kind::List => {
            return Err(Failure {
                position: None,
                field: Some("kind".into()),
                message: "unexpected List".into(),
            });
        }
    })
}

/// Drops the parser's own " at line N, column M" suffix: the position is reported separately.
fn without_position(message: String) -> String {
    match message.rfind(" at line ") {
        Some(at)
            if message[at + 9..]
                .chars()
                .all(|c| c.is_ascii_digit() || " ,column".contains(c)) =>
        {
            message[..at].to_owned()
        }
        _ => message,
    }
}

fn field_of(path: &serde_path_to_error::Path) -> Option<String> {
    let text = path.to_string();
    (text != "." && !text.is_empty()).then_some(text)
}

fn typed_yaml<T: DeserializeOwned>(text: &str) -> Result<T, Failure> {
    let mut field = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            field = field_of(error.path());
            error.into_inner()
        })
    });
    result.map_err(|error| Failure {
        position: error.location().map(|at| (at.line(), at.column())),
        field,
        message: without_position(error.without_snippet().to_string()),
    })
}

fn typed_json<T: DeserializeOwned>(text: &str) -> Result<T, Failure> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| Failure {
        field: field_of(error.path()),
        position: Some((error.inner().line() as u64, error.inner().column() as u64)),
        message: without_position(error.into_inner().to_string()),
    })
}

fn typed_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Failure> {
    serde_path_to_error::deserialize(value).map_err(|error| Failure {
        field: field_of(error.path()),
        position: None,
        message: error.into_inner().to_string(),
    })
}
