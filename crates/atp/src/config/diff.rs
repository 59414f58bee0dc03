//! The difference between two versions of one source type: per master table, the rows added, removed and
//! changed, matched by business key (masters.rs's fragments), compared on their visible content.

use crate::masters::MasterKind;
use crate::member::{policy, Member};
use crate::state::SourceType;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The version to compare with (default: the one this version superseded, else the ACTIVE one).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub against: Option<Uuid>,
}

/// A row present in both versions with different content.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ChangedRow {
    pub key: String,
    #[schema(value_type = Object)]
    pub before: Value,
    #[schema(value_type = Object)]
    pub after: Value,
    /// The fields whose values differ.
    pub fields: Vec<String>,
}

/// The difference in one master table.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Default)]
pub struct TableDiff {
    pub table: String,
    #[schema(value_type = Vec<Object>)]
    pub added: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub removed: Vec<Value>,
    pub changed: Vec<ChangedRow>,
    pub unchanged: usize,
}

/// `version` compared with `against` (rows of `version` not in `against` are added).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionDiff {
    pub version_id: Uuid,
    pub against: Uuid,
    pub source_type: SourceType,
    pub tables: Vec<TableDiff>,
}

/// Compare the rows of two versions of one table (keyed maps of content).
pub fn diff_rows(
    table: &str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> TableDiff {
    let mut d = TableDiff {
        table: table.to_string(),
        ..Default::default()
    };
    for (k, a) in after {
        match before.get(k) {
            None => d.added.push(a.clone()),
            Some(b) if b == a => d.unchanged += 1,
            Some(b) => {
                let mut fields: Vec<String> = a
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(f, v)| b.get(f.as_str()) != Some(*v))
                    .map(|(f, _)| f.clone())
                    .collect();
                fields.sort();
                d.changed.push(ChangedRow {
                    key: k.clone(),
                    before: b.clone(),
                    after: a.clone(),
                    fields,
                });
            }
        }
    }
    for (k, b) in before {
        if !after.contains_key(k) {
            d.removed.push(b.clone());
        }
    }
    d
}

/// Compare two versions of one source type (one statement for both versions' rows of every table of the type).
#[utoipa::path(
    get, path = "/workspaces/{ws}/config-versions/{id}/diff", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id"), DiffQuery),
    responses(
        (status = 200, description = "Rows added, removed and changed per master table", body = VersionDiff),
        (status = 404, description = "NOT_FOUND (either version, or nothing to compare with)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED: the versions are of different source types", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn diff(
    mut m: Member<policy::Read>,
    ApiPath(path): ApiPath<(String, Uuid)>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<ApiJson<VersionDiff>> {
    let (_, id) = path;
    // The two versions first (one statement): the pair's types decide which tables to read.
    let pair: Option<(SourceType, Option<Uuid>, Option<SourceType>)> = sqlx::query_as(
        "SELECT c.source_type, o.id, o.source_type FROM config_versions AS c \
           LEFT JOIN config_versions AS o ON o.workspace_id = c.workspace_id \
                 AND o.id = COALESCE($3, c.previous_version_id, \
                     (SELECT a.id FROM config_versions AS a WHERE a.workspace_id = c.workspace_id \
                         AND a.source_type = c.source_type AND a.status = 'ACTIVE' AND a.id <> c.id)) \
          WHERE c.workspace_id = $1 AND c.id = $2",
    )
    .bind(m.workspace_id)
    .bind(id)
    .bind(q.against)
    .fetch_optional(&mut *m.tx)
    .await?;
    let (t, other, other_t) = pair.ok_or_else(|| ApiError::not_found("config version"))?;
    let other = other.ok_or_else(|| {
        if q.against.is_some() {
            ApiError::not_found("config version (against)")
        } else {
            ApiError::not_found("version to compare with: name one with ?against=")
        }
    })?;
    if other_t != Some(t) {
        return Err(ApiError::validation(
            "against",
            format!(
                "is a {} version; this one is {t}",
                other_t.map(|s| s.as_str()).unwrap_or("?")
            ),
        ));
    }
    let kinds = MasterKind::of(t);
    let union = kinds
        .iter()
        .map(|k| format!("SELECT '{k}' AS kind, f.config_version_id, f.key, f.data FROM ({}) AS f WHERE f.config_version_id IN ($2, $3)", k.fragment()))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows: Vec<(String, Uuid, String, Value)> = sqlx::query_as(&union)
        .bind(m.workspace_id)
        .bind(id)
        .bind(other)
        .fetch_all(&mut *m.tx)
        .await?;
    let mut tables = Vec::new();
    for k in kinds {
        let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
        for (kind, v, key, data) in &rows {
            if kind == k.as_str() {
                if *v == id {
                    after.insert(key.clone(), data.clone());
                } else {
                    before.insert(key.clone(), data.clone());
                }
            }
        }
        tables.push(diff_rows(k.as_str(), &before, &after));
    }
    Ok(ApiJson(VersionDiff {
        version_id: id,
        against: other,
        source_type: t,
        tables,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn added_removed_changed_unchanged() {
        let before: BTreeMap<String, Value> = [
            ("A".to_string(), json!({"code": "A", "sla": 48})),
            ("B".to_string(), json!({"code": "B", "sla": 24})),
            ("C".to_string(), json!({"code": "C"})),
        ]
        .into();
        let after: BTreeMap<String, Value> = [
            ("A".to_string(), json!({"code": "A", "sla": 24})),
            ("B".to_string(), json!({"code": "B", "sla": 24})),
            ("D".to_string(), json!({"code": "D"})),
        ]
        .into();
        let d = diff_rows("t", &before, &after);
        assert_eq!(d.added, vec![json!({"code": "D"})]);
        assert_eq!(d.removed, vec![json!({"code": "C"})]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields, vec!["sla".to_string()]);
        assert_eq!(d.unchanged, 1);
    }
}
