#!/usr/bin/env bash
# ATP part 1 from a new user's seat, against a running `neurohub up` (demo data loaded): a global ADMIN creates a
# workspace, adds members, a workspace admin imports the shipped example CSVs, activates them, registers sites from
# CSV and reads the masters of the active version. Needs curl and jq.
#
#   scripts/atp-walkthrough.sh [API base, default http://127.0.0.1:8080/api/v1]
#
# Passwords: the admin's from NEUROHUB_ADMIN_PASSWORD or var/initial-admin-password (where `up` hands it over when
# stdout is not a terminal), the demo users' from var/atp-demo-users-password (or ATP_DEMO_PASSWORD).
set -euo pipefail
B=${1:-http://127.0.0.1:8080/api/v1}
EX=$(cd "$(dirname "$0")/.." && pwd)/crates/atp/config-example
ADMIN_PW=${NEUROHUB_ADMIN_PASSWORD:-$(cat var/initial-admin-password)}
DEMO_PW=${ATP_DEMO_PASSWORD:-$(cat var/atp-demo-users-password)}
WS=${WS:-ROLLOUT-$(date +%s)}
J='content-type: application/json'
login() { curl -fsS "$B/auth/login" -H "$J" -d "{\"username\":\"$1\",\"password\":\"$2\"}" | jq -r .access_token; }

A=$(login admin "$ADMIN_PW")
echo "## 1. the global ADMIN creates workspace $WS"
curl -fsS "$B/workspaces" -H "authorization: Bearer $A" -H "$J" \
  -d "{\"code\":\"$WS\",\"name\":\"Walkthrough rollout\",\"customer\":\"XLSmart\",\"vendor_owner\":\"AVIAT\"}" \
  | jq -c '{code, is_active}'

echo '## 2. members: a workspace admin, QA and the approvers the example cluster mapping names'
member() {
  curl -fsS "$B/workspaces/$WS/members" -H "authorization: Bearer $A" -H "$J" \
    -d "{\"user\":\"$1\",\"member_role\":\"$2\"}" | jq -c '{username, member_role}'
}
member atp.admin WORKSPACE_ADMIN
member atp.qa QA
for u in atp.approver.west1 atp.approver.west2 atp.approver.east1 atp.approver.east2; do member "$u" APPROVER; done

T=$(login atp.admin "$DEMO_PW")
echo '## 3. import the shipped CSVs (SCOPE_CONFIG first: the others name its roles) and activate each'
import() { curl -sS "$B/workspaces/$WS/config-versions" -H "authorization: Bearer $T" -F source_type="$1" "${@:2}"; }
activate() {
  curl -fsS -X POST "$B/workspaces/$WS/config-versions/$1/activate" -H "authorization: Bearer $T" \
    | jq -c '{source_type, version_number, status}'
}
for spec in "SCOPE_CONFIG -F scopes=@$EX/scopes.csv -F vendors=@$EX/vendors.csv -F roles=@$EX/roles.csv" \
            "CLUSTER_MAPPING -F clusters=@$EX/clusters.csv -F cluster_approvers=@$EX/cluster_approvers.csv" \
            "APPROVAL_MATRIX -F policies=@$EX/policies.csv -F stages=@$EX/stages.csv"; do
  # shellcheck disable=SC2086
  V=$(import $spec)
  echo "$V" | jq -c '{source_type, version_number, status, validation_status}'
  activate "$(echo "$V" | jq -r .id)"
done

echo '## 4. the same files again: refused, naming the existing version'
import APPROVAL_MATRIX -F policies=@"$EX/policies.csv" -F stages=@"$EX/stages.csv" | jq -c '{status, code, detail}'

echo '## 5. register sites from CSV (per-row report)'
curl -fsS "$B/workspaces/$WS/sites/import" -H "authorization: Bearer $T" -F sites=@"$EX/sites.csv" | jq -c .

echo '## 6. the masters of the active version: the RAN_MW chain'
curl -fsS "$B/workspaces/$WS/masters/stages?limit=500" -H "authorization: Bearer $T" \
  | jq -r '.items[] | select(.data.policy_code | startswith("RAN_MW")) | "\(.key)  \(.data.role_code)  \(.data.sla_hours) h"'
