//! The CSV formats of the three configuration source types (docs/atp.md "CSV formats") and their validation.
//!
//! Pure functions: the database facts a file is checked against (the workspace's members, the codes of the ACTIVE
//! SCOPE_CONFIG) come in as [`Lookups`], so every rule here has a unit test without a database. Validation never
//! stops at the first problem: every bad row of every file is reported, and any ERROR makes the version INVALID
//! (stored with its report, no master rows, never activatable).

use super::super::csvin::{Report, Table};
use crate::state::{AssignmentMode, AtpCategory, ScopeGroup, SourceType, VendorType};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// Facts of the workspace a file is checked against.
#[derive(Debug, Default, Clone)]
pub struct Lookups {
    /// Active members by lower-case username and by lower-case email.
    pub users: HashMap<String, i64>,
    /// Codes of the ACTIVE SCOPE_CONFIG version (none when there is no active one).
    pub scope_config: Option<ScopeRefs>,
}

/// Ids of the ACTIVE SCOPE_CONFIG's rows by code.
#[derive(Debug, Default, Clone)]
pub struct ScopeRefs {
    pub scopes: HashMap<String, (Uuid, AtpCategory)>,
    pub vendors: HashMap<String, Uuid>,
    pub roles: HashMap<String, Uuid>,
}

/// The files an upload of each source type consists of (multipart field names) and their columns.
pub struct FileSpec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

pub fn files(t: SourceType) -> &'static [FileSpec] {
    match t {
        SourceType::ScopeConfig => &[
            FileSpec {
                name: "scopes",
                required: &["scope_code", "scope_name", "scope_group", "atp_category"],
                optional: &["description"],
            },
            FileSpec {
                name: "vendors",
                required: &["vendor_code", "vendor_name"],
                optional: &["vendor_type", "contact_email"],
            },
            FileSpec {
                name: "roles",
                required: &["role_code", "role_name", "stage_group", "hierarchy_order"],
                optional: &["is_final_approver", "vendor_code"],
            },
        ],
        SourceType::ApprovalMatrix => &[
            FileSpec {
                name: "policies",
                required: &["policy_code", "policy_name", "atp_category"],
                optional: &["scope_code", "vendor_code", "description"],
            },
            FileSpec {
                name: "stages",
                required: &[
                    "policy_code",
                    "stage_number",
                    "stage_name",
                    "role_code",
                    "sla_hours",
                ],
                optional: &[
                    "sequence_order",
                    "parallel_group",
                    "assignment_mode",
                    "static_user",
                    "is_mandatory",
                ],
            },
        ],
        SourceType::ClusterMapping => &[
            FileSpec {
                name: "clusters",
                required: &["cluster_code", "region"],
                optional: &["cluster_name", "city", "m_sequence"],
            },
            FileSpec {
                name: "cluster_approvers",
                required: &["cluster_code", "role_code", "primary_user"],
                optional: &["backup_user", "effective_from", "effective_to"],
            },
        ],
    }
}

/// SHA-256 of an upload: the source type, then each file (sorted by name) as name, length and bytes, so the same
/// files give the same checksum whatever order the client sent them in.
pub fn checksum(t: SourceType, uploaded: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = Sha256::new();
    h.update(t.as_str().as_bytes());
    for (name, bytes) in uploaded {
        h.update([0]);
        h.update(name.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())
}

#[derive(Debug, Clone)]
pub struct ScopeRow {
    pub code: String,
    pub name: String,
    pub group: ScopeGroup,
    pub category: AtpCategory,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VendorRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub vendor_type: VendorType,
    pub email: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub code: String,
    pub name: String,
    pub stage_group: String,
    pub hierarchy_order: i32,
    pub is_final: bool,
    pub vendor_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub category: AtpCategory,
    pub scope_id: Option<Uuid>,
    pub vendor_id: Option<Uuid>,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StageRow {
    pub policy_id: Uuid,
    pub stage_number: i32,
    pub stage_name: String,
    pub sequence_order: i32,
    pub role_id: Uuid,
    pub parallel_group: Option<i32>,
    pub sla_hours: i32,
    pub mode: AssignmentMode,
    pub static_user_id: Option<i64>,
    pub is_mandatory: bool,
}

#[derive(Debug, Clone)]
pub struct ClusterRow {
    pub id: Uuid,
    pub code: String,
    pub name: Option<String>,
    pub region: String,
    pub city: Option<String>,
    pub m_sequence: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct ApproverRow {
    pub cluster_id: Uuid,
    pub role_id: Uuid,
    pub primary_user_id: i64,
    pub backup_user_id: Option<i64>,
    pub effective_from: Option<NaiveDate>,
    pub effective_to: Option<NaiveDate>,
}

/// The master rows of a valid upload.
#[derive(Debug, Clone)]
pub enum Parsed {
    Scope {
        scopes: Vec<ScopeRow>,
        vendors: Vec<VendorRow>,
        roles: Vec<RoleRow>,
    },
    Matrix {
        policies: Vec<PolicyRow>,
        stages: Vec<StageRow>,
    },
    Clusters {
        clusters: Vec<ClusterRow>,
        approvers: Vec<ApproverRow>,
    },
}

/// The outcome of checking an upload: its report, its data row count, and the rows when it has no ERROR.
pub struct Checked {
    pub report: Report,
    pub row_count: usize,
    pub parsed: Option<Parsed>,
}

/// Check an upload of type `t` against `lk`. Missing files, unexpected files and every bad row are reported.
pub fn check(t: SourceType, uploaded: &BTreeMap<String, Vec<u8>>, lk: &Lookups) -> Checked {
    let mut r = Report::default();
    let specs = files(t);
    for name in uploaded.keys() {
        if !specs.iter().any(|s| s.name == name) {
            let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
            r.error(
                name,
                0,
                "",
                format!(
                    "unexpected file for {t}; its files are {}",
                    names.join(", ")
                ),
            );
        }
    }
    let mut tables = Vec::new();
    for s in specs {
        match uploaded.get(s.name) {
            None => {
                r.error(
                    s.name,
                    0,
                    "",
                    format!("file `{}` is missing: a {t} upload needs it", s.name),
                );
                tables.push(None);
            }
            Some(bytes) => tables.push(Table::read(s.name, bytes, s.required, s.optional, &mut r)),
        }
    }
    let row_count = tables.iter().flatten().map(Table::len).sum();
    let parsed = match t {
        SourceType::ScopeConfig => scope_config(&tables, &mut r),
        SourceType::ApprovalMatrix => approval_matrix(&tables, lk, &mut r),
        SourceType::ClusterMapping => cluster_mapping(&tables, lk, &mut r),
    };
    let parsed = if r.has_errors() { None } else { parsed };
    Checked {
        report: r,
        row_count,
        parsed,
    }
}

/// Report a code seen twice in one file; true when it is new.
fn first(
    seen: &mut HashMap<String, usize>,
    code: &str,
    line: usize,
    file: &str,
    col: &str,
    r: &mut Report,
) -> bool {
    if let Some(prev) = seen.get(code) {
        r.error(
            file,
            line,
            col,
            format!("duplicate {col} `{code}` (first on row {prev})"),
        );
        false
    } else {
        seen.insert(code.to_string(), line);
        true
    }
}

fn scope_config(tables: &[Option<Table>], r: &mut Report) -> Option<Parsed> {
    let mut scopes = Vec::new();
    let mut seen = HashMap::new();
    if let Some(t) = &tables[0] {
        if t.is_empty() {
            r.error(
                &t.file,
                0,
                "",
                "no scopes: a scope config needs at least one",
            );
        }
        for row in t.rows() {
            let code = row.code(r, "scope_code");
            let name = row.text(r, "scope_name", 200);
            let group = row.enum_value::<ScopeGroup>(r, "scope_group", None);
            let category = row.enum_value::<AtpCategory>(r, "atp_category", None);
            let description = row.opt_text(r, "description", 2000);
            if let Some(c) = &code {
                first(&mut seen, c, row.line, &t.file, "scope_code", r);
            }
            if let (Some(code), Some(name), Some(group), Some(category)) =
                (code, name, group, category)
            {
                scopes.push(ScopeRow {
                    code,
                    name,
                    group,
                    category,
                    description,
                });
            }
        }
    }
    let mut vendors = Vec::new();
    let mut vendor_ids = HashMap::new();
    let mut seen = HashMap::new();
    if let Some(t) = &tables[1] {
        for row in t.rows() {
            let code = row.code(r, "vendor_code");
            let name = row.text(r, "vendor_name", 200);
            let vendor_type =
                row.enum_value::<VendorType>(r, "vendor_type", Some(VendorType::Vendor));
            let email = row.opt_text(r, "contact_email", 255);
            if let Some(e) = &email {
                if !e.contains('@') {
                    r.error(
                        &t.file,
                        row.line,
                        "contact_email",
                        format!("`{e}` is not an email address"),
                    );
                }
            }
            if let Some(c) = &code {
                first(&mut seen, c, row.line, &t.file, "vendor_code", r);
            }
            if let (Some(code), Some(name), Some(vendor_type)) = (code, name, vendor_type) {
                let id = Uuid::new_v4();
                vendor_ids.insert(code.clone(), id);
                vendors.push(VendorRow {
                    id,
                    code,
                    name,
                    vendor_type,
                    email,
                });
            }
        }
    }
    let mut roles = Vec::new();
    let mut seen = HashMap::new();
    if let Some(t) = &tables[2] {
        if t.is_empty() {
            r.error(
                &t.file,
                0,
                "",
                "no roles: approval stages need at least one",
            );
        }
        for row in t.rows() {
            let code = row.code(r, "role_code");
            let name = row.text(r, "role_name", 200);
            let stage_group = row.code(r, "stage_group").filter(|g| {
                let ok =
                    g.bytes().next().is_some_and(|b| b.is_ascii_uppercase()) && !g.contains('-');
                if !ok {
                    r.error(
                        &t.file,
                        row.line,
                        "stage_group",
                        format!("`{g}` must start with a letter and use A-Z, 0-9, _"),
                    );
                }
                ok
            });
            let order = row.int(r, "hierarchy_order", 1, 1000, true).flatten();
            let is_final = row.boolean(r, "is_final_approver", false);
            let vendor_id = match row.opt_code(r, "vendor_code") {
                Some(Some(v)) => match vendor_ids.get(&v) {
                    Some(id) => Some(Some(*id)),
                    None => {
                        r.error(
                            &t.file,
                            row.line,
                            "vendor_code",
                            format!("unknown vendor `{v}`: not in vendors"),
                        );
                        None
                    }
                },
                Some(None) => Some(None),
                None => None,
            };
            if let Some(c) = &code {
                first(&mut seen, c, row.line, &t.file, "role_code", r);
            }
            if let (
                Some(code),
                Some(name),
                Some(stage_group),
                Some(order),
                Some(is_final),
                Some(vendor_id),
            ) = (code, name, stage_group, order, is_final, vendor_id)
            {
                roles.push(RoleRow {
                    code,
                    name,
                    stage_group,
                    hierarchy_order: order as i32,
                    is_final,
                    vendor_id,
                });
            }
        }
    }
    Some(Parsed::Scope {
        scopes,
        vendors,
        roles,
    })
}

fn no_scope_config(lk: &Lookups, r: &mut Report, file: &str) {
    if lk.scope_config.is_none() {
        r.error(file, 0, "", "the workspace has no ACTIVE SCOPE_CONFIG: import and activate one first (its roles, scopes and vendors are what this file names)");
    }
}

fn user(
    lk: &Lookups,
    r: &mut Report,
    file: &str,
    line: usize,
    col: &str,
    name: &str,
) -> Option<i64> {
    let id = lk.users.get(&name.to_lowercase()).copied();
    if id.is_none() {
        r.error(
            file,
            line,
            col,
            format!(
                "unknown user `{name}`: not an active member of this workspace (username or email)"
            ),
        );
    }
    id
}

fn approval_matrix(tables: &[Option<Table>], lk: &Lookups, r: &mut Report) -> Option<Parsed> {
    let refs = lk.scope_config.clone().unwrap_or_default();
    if let Some(t) = tables.iter().flatten().next() {
        no_scope_config(lk, r, &t.file);
    }
    let mut policies = Vec::new();
    // every policy code of the file, valid row or not, so its stages are checked without cascading errors
    let mut by_code: BTreeMap<String, (Uuid, usize)> = BTreeMap::new();
    let mut seen = HashMap::new();
    if let Some(t) = &tables[0] {
        if t.is_empty() {
            r.error(
                &t.file,
                0,
                "",
                "no policies: an approval matrix needs at least one",
            );
        }
        for row in t.rows() {
            let code = row.code(r, "policy_code");
            let name = row.text(r, "policy_name", 200);
            let category = row.enum_value::<AtpCategory>(r, "atp_category", None);
            let description = row.opt_text(r, "description", 2000);
            let scope_id = match row.opt_code(r, "scope_code") {
                Some(Some(s)) => match refs.scopes.get(&s) {
                    Some((id, cat)) => {
                        if category.is_some_and(|c| c != *cat) {
                            r.error(
                                &t.file,
                                row.line,
                                "scope_code",
                                format!(
                                    "scope `{s}` is of category {cat}, the policy of {}",
                                    category.unwrap()
                                ),
                            );
                        }
                        Some(Some(*id))
                    }
                    None => {
                        r.error(
                            &t.file,
                            row.line,
                            "scope_code",
                            format!("unknown scope `{s}`: not in the ACTIVE SCOPE_CONFIG"),
                        );
                        None
                    }
                },
                Some(None) => Some(None),
                None => None,
            };
            let vendor_id = match row.opt_code(r, "vendor_code") {
                Some(Some(v)) => match refs.vendors.get(&v) {
                    Some(id) => Some(Some(*id)),
                    None => {
                        r.error(
                            &t.file,
                            row.line,
                            "vendor_code",
                            format!("unknown vendor `{v}`: not in the ACTIVE SCOPE_CONFIG"),
                        );
                        None
                    }
                },
                Some(None) => Some(None),
                None => None,
            };
            let id = Uuid::new_v4();
            if let Some(c) = &code {
                if first(&mut seen, c, row.line, &t.file, "policy_code", r) {
                    by_code.insert(c.clone(), (id, row.line));
                }
            }
            if let (Some(code), Some(name), Some(category), Some(scope_id), Some(vendor_id)) =
                (code, name, category, scope_id, vendor_id)
            {
                policies.push(PolicyRow {
                    id,
                    code,
                    name,
                    category,
                    scope_id,
                    vendor_id,
                    description,
                });
            }
        }
    }
    let mut stages = Vec::new();
    // policy code -> stage numbers seen (with rows)
    let mut numbers: BTreeMap<String, BTreeMap<i64, usize>> = BTreeMap::new();
    if let Some(t) = &tables[1] {
        for row in t.rows() {
            let policy = row.code(r, "policy_code");
            let number = row.int(r, "stage_number", 1, 50, true).flatten();
            let name = row.text(r, "stage_name", 200);
            let role = row.code(r, "role_code");
            let sla = row.int(r, "sla_hours", 1, 8760, true).flatten();
            let sequence = row.int(r, "sequence_order", 1, 50, false);
            let parallel = row.int(r, "parallel_group", 1, 50, false);
            let mode = row.enum_value::<AssignmentMode>(
                r,
                "assignment_mode",
                Some(AssignmentMode::Cluster),
            );
            let mandatory = row.boolean(r, "is_mandatory", true);
            let policy_id = policy.as_ref().and_then(|p| match by_code.get(p) {
                Some((id, _)) => Some(*id),
                None => {
                    r.error(
                        &t.file,
                        row.line,
                        "policy_code",
                        format!("unknown policy `{p}`: not in policies"),
                    );
                    None
                }
            });
            let role_id = role.as_ref().and_then(|c| match refs.roles.get(c) {
                Some(id) => Some(*id),
                None => {
                    r.error(
                        &t.file,
                        row.line,
                        "role_code",
                        format!("unknown role `{c}`: not in the ACTIVE SCOPE_CONFIG"),
                    );
                    None
                }
            });
            let static_user = match (mode, row.get("static_user")) {
                (Some(AssignmentMode::StaticUser), None) => {
                    r.error(
                        &t.file,
                        row.line,
                        "static_user",
                        "is required when assignment_mode is STATIC_USER",
                    );
                    None
                }
                (Some(AssignmentMode::StaticUser), Some(u)) => {
                    user(lk, r, &t.file, row.line, "static_user", u).map(Some)
                }
                (Some(AssignmentMode::Rule), _) => {
                    r.error(&t.file, row.line, "assignment_mode", "RULE assignment needs a rule document: not supported in CSV (use CLUSTER, STATIC_USER or AUTO)");
                    None
                }
                (_, Some(_)) => {
                    r.error(
                        &t.file,
                        row.line,
                        "static_user",
                        "is only for assignment_mode STATIC_USER",
                    );
                    None
                }
                (_, None) => Some(None),
            };
            if let (Some(p), Some(n)) = (&policy, number) {
                let e = numbers.entry(p.clone()).or_default();
                if let Some(prev) = e.get(&n) {
                    r.error(
                        &t.file,
                        row.line,
                        "stage_number",
                        format!("policy `{p}` has stage {n} twice (first on row {prev})"),
                    );
                } else {
                    e.insert(n, row.line);
                }
            }
            if let (
                Some(policy_id),
                Some(n),
                Some(name),
                Some(role_id),
                Some(sla),
                Some(sequence),
                Some(parallel),
                Some(mode),
                Some(mandatory),
                Some(static_user),
            ) = (
                policy_id,
                number,
                name,
                role_id,
                sla,
                sequence,
                parallel,
                mode,
                mandatory,
                static_user,
            ) {
                stages.push(StageRow {
                    policy_id,
                    stage_number: n as i32,
                    stage_name: name,
                    sequence_order: sequence.unwrap_or(n) as i32,
                    role_id,
                    parallel_group: parallel.map(|p| p as i32),
                    sla_hours: sla as i32,
                    mode,
                    static_user_id: static_user,
                    is_mandatory: mandatory,
                });
            }
        }
        // every policy has stages 1..n without a gap
        for (code, (_, line)) in &by_code {
            match numbers.get(code) {
                None => r.error(
                    &t.file,
                    0,
                    "policy_code",
                    format!("policy `{code}` (policies row {line}) has no stages"),
                ),
                Some(ns) => {
                    let max = *ns.keys().last().unwrap();
                    for k in 1..=max {
                        if !ns.contains_key(&k) {
                            r.error(&t.file, 0, "stage_number", format!("policy `{code}` is missing stage {k} (it has stages up to {max})"));
                        }
                    }
                }
            }
        }
    }
    Some(Parsed::Matrix { policies, stages })
}

fn cluster_mapping(tables: &[Option<Table>], lk: &Lookups, r: &mut Report) -> Option<Parsed> {
    let refs = lk.scope_config.clone().unwrap_or_default();
    let mut clusters = Vec::new();
    let mut by_code: BTreeMap<String, (Uuid, usize)> = BTreeMap::new();
    let mut seen = HashMap::new();
    if let Some(t) = &tables[0] {
        if t.is_empty() {
            r.error(
                &t.file,
                0,
                "",
                "no clusters: a cluster mapping needs at least one",
            );
        }
        for row in t.rows() {
            let code = row.code(r, "cluster_code");
            let region = row.text(r, "region", 100);
            let name = row.opt_text(r, "cluster_name", 200);
            let city = row.opt_text(r, "city", 100);
            let seq = row.int(r, "m_sequence", 1, 1_000_000, false);
            let new = code
                .as_ref()
                .is_some_and(|c| first(&mut seen, c, row.line, &t.file, "cluster_code", r));
            if let (true, Some(code), Some(region), Some(seq)) = (new, code, region, seq) {
                let id = Uuid::new_v4();
                by_code.insert(code.clone(), (id, row.line));
                clusters.push(ClusterRow {
                    id,
                    code,
                    name,
                    region,
                    city,
                    m_sequence: seq.map(|s| s as i32),
                });
            }
        }
    }
    let mut approvers = Vec::new();
    let mut with_approvers = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    if let Some(t) = &tables[1] {
        no_scope_config(lk, r, &t.file);
        for row in t.rows() {
            let cluster = row.code(r, "cluster_code");
            let role = row.code(r, "role_code");
            let primary = row.text(r, "primary_user", 255);
            let backup = row.opt_text(r, "backup_user", 255);
            let from = row.date(r, "effective_from");
            let to = row.date(r, "effective_to");
            let cluster_id = cluster.as_ref().and_then(|c| match by_code.get(c) {
                Some((id, _)) => Some(*id),
                None => {
                    r.error(
                        &t.file,
                        row.line,
                        "cluster_code",
                        format!("unknown cluster `{c}`: not in clusters"),
                    );
                    None
                }
            });
            let role_id = role.as_ref().and_then(|c| match refs.roles.get(c) {
                Some(id) => Some(*id),
                None => {
                    r.error(
                        &t.file,
                        row.line,
                        "role_code",
                        format!("unknown role `{c}`: not in the ACTIVE SCOPE_CONFIG"),
                    );
                    None
                }
            });
            let primary_id = primary
                .as_ref()
                .and_then(|u| user(lk, r, &t.file, row.line, "primary_user", u));
            let backup_id = match &backup {
                None => Some(None),
                Some(u) => user(lk, r, &t.file, row.line, "backup_user", u).map(Some),
            };
            if let (Some(p), Some(Some(b))) = (primary_id, backup_id) {
                if p == b {
                    r.error(
                        &t.file,
                        row.line,
                        "backup_user",
                        "the backup approver must differ from the primary",
                    );
                }
            }
            if let (Some(Some(f)), Some(Some(to))) = (from, to) {
                if to < f {
                    r.error(
                        &t.file,
                        row.line,
                        "effective_to",
                        "is before effective_from",
                    );
                }
            }
            if let (Some(c), Some(ro), Some(f)) = (&cluster, &role, from) {
                let key = format!("{c}/{ro}/{}", f.map(|d| d.to_string()).unwrap_or_default());
                if let Some(prev) = seen.get(&key) {
                    r.error(&t.file, row.line, "role_code", format!("cluster `{c}` has role `{ro}` twice from the same date (first on row {prev})"));
                } else {
                    seen.insert(key, row.line);
                }
                with_approvers.insert(c.clone());
            }
            if let (Some(cluster_id), Some(role_id), Some(p), Some(b), Some(f), Some(to)) =
                (cluster_id, role_id, primary_id, backup_id, from, to)
            {
                approvers.push(ApproverRow {
                    cluster_id,
                    role_id,
                    primary_user_id: p,
                    backup_user_id: b,
                    effective_from: f,
                    effective_to: to,
                });
            }
        }
        for (code, (_, line)) in &by_code {
            if !with_approvers.contains(code) {
                r.warning(
                    &t.file,
                    0,
                    "cluster_code",
                    format!("cluster `{code}` (clusters row {line}) has no approvers"),
                );
            }
        }
    }
    Some(Parsed::Clusters {
        clusters,
        approvers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(n, b)| (n.to_string(), b.as_bytes().to_vec()))
            .collect()
    }

    fn lookups() -> Lookups {
        let mut users = HashMap::new();
        users.insert("ana".into(), 1);
        users.insert("ana@example.test".into(), 1);
        users.insert("budi".into(), 2);
        let mut refs = ScopeRefs::default();
        refs.scopes
            .insert("MW".into(), (Uuid::new_v4(), AtpCategory::RanMw));
        refs.vendors.insert("ZTE".into(), Uuid::new_v4());
        for r in ["QA_PRE", "FOP_RTS", "RTH"] {
            refs.roles.insert(r.into(), Uuid::new_v4());
        }
        Lookups {
            users,
            scope_config: Some(refs),
        }
    }

    fn reasons(c: &Checked) -> Vec<(String, usize, String)> {
        c.report
            .0
            .iter()
            .map(|i| (i.file.clone(), i.row, i.column.clone()))
            .collect()
    }

    #[test]
    fn a_good_scope_config_parses() {
        let c = check(
            SourceType::ScopeConfig,
            &up(&[
                ("scopes", "scope_code,scope_name,scope_group,atp_category\nMW,Microwave,MICROWAVE,RAN_MW\n"),
                ("vendors", "vendor_code,vendor_name,vendor_type\nZTE,ZTE Corp,OEM\n"),
                ("roles", "role_code,role_name,stage_group,hierarchy_order,vendor_code\nRTH,Head,REGIONAL,3,ZTE\n"),
            ]),
            &Lookups::default(),
        );
        assert!(c.report.0.is_empty(), "{:?}", c.report.0);
        assert_eq!(c.row_count, 3);
        let Some(Parsed::Scope { roles, vendors, .. }) = c.parsed else {
            panic!()
        };
        assert_eq!(roles[0].vendor_id, Some(vendors[0].id));
    }

    #[test]
    fn every_bad_row_of_every_file_is_reported() {
        let c = check(
            SourceType::ScopeConfig,
            &up(&[
                ("scopes", "scope_code,scope_name,scope_group,atp_category\nMW,Microwave,MICROWAVE,RAN_MW\nMW,Again,MICROWAVE,RAN_MW\nX,,SPACE,RAN_MW\n"),
                ("vendors", "vendor_code,vendor_name\n"),
                ("roles", "role_code,role_name,stage_group,hierarchy_order,vendor_code\nRTH,Head,REGIONAL,0,NOPE\n"),
                ("extra", "a\n"),
            ]),
            &Lookups::default(),
        );
        assert!(c.parsed.is_none());
        assert_eq!(
            reasons(&c),
            vec![
                ("extra".into(), 0, "".into()),
                ("scopes".into(), 3, "scope_code".into()),
                ("scopes".into(), 4, "scope_name".into()),
                ("scopes".into(), 4, "scope_group".into()),
                ("roles".into(), 2, "hierarchy_order".into()),
                ("roles".into(), 2, "vendor_code".into()),
            ]
        );
    }

    #[test]
    fn missing_files_are_reported() {
        let c = check(SourceType::ClusterMapping, &up(&[]), &lookups());
        assert_eq!(
            reasons(&c),
            vec![
                ("clusters".into(), 0, "".into()),
                ("cluster_approvers".into(), 0, "".into())
            ]
        );
    }

    const POLICIES: &str = "policy_code,policy_name,atp_category,scope_code,vendor_code\nP1,One,RAN_MW,MW,ZTE\nP2,Two,PLN_UPGRADE,,\n";

    #[test]
    fn a_good_matrix_parses_with_its_stages_linked() {
        let c = check(
            SourceType::ApprovalMatrix,
            &up(&[
                ("policies", POLICIES),
                ("stages", "policy_code,stage_number,stage_name,role_code,sla_hours\nP1,1,QA,QA_PRE,24\nP1,2,FOP,FOP_RTS,48\nP2,1,RTH,RTH,24\n"),
            ]),
            &lookups(),
        );
        assert!(c.report.0.is_empty(), "{:?}", c.report.0);
        let Some(Parsed::Matrix { policies, stages }) = c.parsed else {
            panic!()
        };
        assert_eq!(
            stages
                .iter()
                .filter(|s| s.policy_id == policies[0].id)
                .count(),
            2
        );
        assert_eq!(stages[1].sequence_order, 2);
    }

    #[test]
    fn matrix_rules_unknown_role_bad_sla_missing_stage_unknown_scope() {
        let c = check(
            SourceType::ApprovalMatrix,
            &up(&[
                ("policies", "policy_code,policy_name,atp_category,scope_code\nP1,One,RAN_MW,NOPE\nP2,Two,PLN_UPGRADE,MW\nP3,Three,RAN_MW,\n"),
                ("stages", "policy_code,stage_number,stage_name,role_code,sla_hours,assignment_mode,static_user\nP1,1,A,GHOST,24,,\nP1,3,B,RTH,0,,\nP2,1,C,RTH,x,,\nP9,1,D,RTH,24,,\nP1,4,E,RTH,24,STATIC_USER,nobody\n"),
            ]),
            &lookups(),
        );
        assert!(c.parsed.is_none());
        assert_eq!(
            reasons(&c),
            vec![
                ("policies".into(), 2, "scope_code".into()),
                ("policies".into(), 3, "scope_code".into()),
                ("stages".into(), 2, "role_code".into()),
                ("stages".into(), 3, "sla_hours".into()),
                ("stages".into(), 4, "sla_hours".into()),
                ("stages".into(), 5, "policy_code".into()),
                ("stages".into(), 6, "static_user".into()),
                ("stages".into(), 0, "stage_number".into()),
                ("stages".into(), 0, "policy_code".into()),
            ]
        );
        // P1's row is invalid (unknown scope) but its stages are still checked: it misses stage 2; P3 has none
        assert!(c
            .report
            .0
            .iter()
            .any(|i| i.reason.contains("`P3`") && i.reason.contains("no stages")));
    }

    #[test]
    fn a_gap_in_the_stages_is_a_missing_stage() {
        let c = check(
            SourceType::ApprovalMatrix,
            &up(&[
                ("policies", POLICIES),
                ("stages", "policy_code,stage_number,stage_name,role_code,sla_hours\nP1,1,QA,QA_PRE,24\nP1,3,FOP,FOP_RTS,48\nP2,1,RTH,RTH,24\nP2,1,RTH,RTH,24\n"),
            ]),
            &lookups(),
        );
        let r: Vec<_> = c.report.0.iter().map(|i| i.reason.clone()).collect();
        assert!(r.iter().any(|m| m.contains("missing stage 2")), "{r:?}");
        assert!(r.iter().any(|m| m.contains("stage 1 twice")), "{r:?}");
    }

    #[test]
    fn without_an_active_scope_config_references_cannot_resolve() {
        let c = check(
            SourceType::ApprovalMatrix,
            &up(&[
                ("policies", POLICIES),
                (
                    "stages",
                    "policy_code,stage_number,stage_name,role_code,sla_hours\nP1,1,QA,QA_PRE,24\n",
                ),
            ]),
            &Lookups {
                users: HashMap::new(),
                scope_config: None,
            },
        );
        assert!(c
            .report
            .0
            .iter()
            .any(|i| i.reason.contains("no ACTIVE SCOPE_CONFIG")));
    }

    #[test]
    fn cluster_rules_duplicate_code_unknown_user_same_backup_window() {
        let c = check(
            SourceType::ClusterMapping,
            &up(&[
                ("clusters", "cluster_code,region,city\nJKT-01,Jabodetabek,Jakarta\nJKT-01,Jabodetabek,Jakarta\nSBY-01,East Java,Surabaya\nBDG-01,West Java,\n"),
                ("cluster_approvers", "cluster_code,role_code,primary_user,backup_user,effective_from,effective_to\nJKT-01,RTH,ana,BUDI,2025-01-01,\nJKT-01,RTH,ana@example.test,ana,,\nSBY-01,RTH,ghost,,2025-02-01,2025-01-01\nXXX-01,RTH,ana,,,\n"),
            ]),
            &lookups(),
        );
        assert!(c.parsed.is_none());
        assert_eq!(
            reasons(&c),
            vec![
                ("clusters".into(), 3, "cluster_code".into()),
                ("cluster_approvers".into(), 3, "backup_user".into()),
                ("cluster_approvers".into(), 4, "primary_user".into()),
                ("cluster_approvers".into(), 4, "effective_to".into()),
                ("cluster_approvers".into(), 5, "cluster_code".into()),
                ("cluster_approvers".into(), 0, "cluster_code".into()),
            ]
        );
        // the last one is BDG-01's warning: a cluster without approvers
        assert_eq!(
            c.report.0.last().unwrap().severity,
            crate::csvin::Severity::Warning
        );
    }

    #[test]
    fn checksum_ignores_send_order_but_not_content_or_type() {
        let a = up(&[("a", "x"), ("b", "y")]);
        let b = up(&[("b", "y"), ("a", "x")]);
        assert_eq!(
            checksum(SourceType::ScopeConfig, &a),
            checksum(SourceType::ScopeConfig, &b)
        );
        assert_ne!(
            checksum(SourceType::ScopeConfig, &a),
            checksum(SourceType::ClusterMapping, &a)
        );
        assert_ne!(
            checksum(SourceType::ScopeConfig, &a),
            checksum(SourceType::ScopeConfig, &up(&[("a", "x"), ("b", "z")]))
        );
        assert_eq!(checksum(SourceType::ScopeConfig, &a).len(), 64);
    }
}
