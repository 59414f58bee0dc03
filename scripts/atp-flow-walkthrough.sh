#!/usr/bin/env bash
# ATP part 2 from a new user's seat, against a running `neurohub up` (demo data loaded): the demo workspace
# XLSMART-AVIAT's document controller submits an ATP for site JKT-0002 with its report, QA approves it, each stage
# is decided by the approver routing assigned (found in their own pending list), the first stage approves with a
# punchlist item that is rectified with evidence, verified and closed, the timeline is read, and the SLA report
# shows the demo's overdue stage escalated by the SLA sweep. Needs curl and jq.
#
#   scripts/atp-flow-walkthrough.sh [API base, default http://127.0.0.1:8080/api/v1]
#
# Passwords: the demo users' from var/atp-demo-users-password (where `up` hands it over) or ATP_DEMO_PASSWORD.
set -euo pipefail
B=${1:-http://127.0.0.1:8080/api/v1}
DEMO_PW=${ATP_DEMO_PASSWORD:-$(cat var/atp-demo-users-password)}
W="$B/workspaces/XLSMART-AVIAT"
# one submission per site + scope + category: run again with another site (e.g. SITE=SBY-0001 SCOPE=MW, routed to the east approvers)
SITE=${SITE:-JKT-0002}
SCOPE=${SCOPE:-RAN}
J='content-type: application/json'
login() { curl -fsS "$B/auth/login" -H "$J" -d "{\"username\":\"$1\",\"password\":\"$2\"}" | jq -r .access_token; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
printf '%%PDF-1.4\n%% JKT-0002 RAN ATP report\n%%%%EOF\n' >"$TMP/atp-report.pdf"
printf '\xff\xd8\xff\xe0 evidence photo' >"$TMP/evidence.jpg"

D=$(login atp.doccontrol "$DEMO_PW")
echo '## 1. atp.doccontrol creates the submission, uploads its ATP report and submits'
SUB=$(curl -fsS "$W/submissions" -H "authorization: Bearer $D" -H "$J" \
  -d "{\"site_id\":\"$SITE\",\"scope_code\":\"$SCOPE\",\"vendor_code\":\"AVIAT\",\"atp_category\":\"RAN_MW\"}")
echo "$SUB" | jq -c '{submission_code, revision_number, status}'
S=$(echo "$SUB" | jq -r .id)
curl -fsS "$W/submissions/$S/documents" -H "authorization: Bearer $D" -F file=@"$TMP/atp-report.pdf" \
  | jq -c '{file_name, media_type, size_bytes, sha256}'
curl -fsS -X POST "$W/submissions/$S/submit" -H "authorization: Bearer $D" | jq -c '{status}'

echo '## 2. atp.qa approves: the chain is routed (frozen to the active configuration) and starts'
Q=$(login atp.qa "$DEMO_PW")
curl -fsS "$W/submissions/$S/qa-review" -H "authorization: Bearer $Q" -H "$J" -d '{"decision":"APPROVE"}' \
  | jq -c '{status}'

echo '## 3. each stage, decided by the approver it is assigned to (from their own pending list)'
declare -A TOK
for u in atp.approver.west1 atp.approver.west2 atp.approver.east1 atp.approver.east2; do TOK[$u]=$(login "$u" "$DEMO_PW"); done
ITEM=""
RAISER=""
for round in 1 2 3 4 5 6; do
  decided=0
  for u in "${!TOK[@]}"; do
    STAGE=$(curl -fsS "$W/approvals/pending?limit=100" -H "authorization: Bearer ${TOK[$u]}" \
      | jq -r --arg s "$S" '.items[] | select(.submission_id == $s) | .stage_id' | head -1)
    [ -n "$STAGE" ] || continue
    if [ -z "$RAISER" ]; then
      # the first stage approves with a punchlist: one minor item, evidence due in a week
      DUE=$(date -u -d '+7 days' +%Y-%m-%dT%H:%M:%SZ)
      BODY="{\"decision\":\"APPROVE_WITH_PUNCHLIST\",\"comment\":\"label the IF cable\",\"items\":[{\"code\":\"P-001\",\"description\":\"IF cable unlabelled at the IDU\",\"severity\":\"MINOR\",\"evidence_before\":\"$DUE\"}]}"
      RAISER=$u
    else
      BODY='{"decision":"APPROVE"}'
    fi
    echo "$u decides stage $STAGE:"
    curl -fsS "$W/stages/$STAGE/decide" -H "authorization: Bearer ${TOK[$u]}" -H "$J" -d "$BODY" \
      | jq -c '{stage: .stage.stage_name, decision: .stage.decision, instance_status}'
    decided=1
  done
  [ "$decided" = 1 ] || break
done

echo '## 4. the punchlist: rectified with evidence by the submitter, verified and closed by the stage that raised it'
ITEM=$(curl -fsS "$W/submissions/$S/punchlist-items" -H "authorization: Bearer $D" | jq -r '.[0].id')
EV=$(curl -fsS "$W/submissions/$S/documents" -H "authorization: Bearer $D" -F file=@"$TMP/evidence.jpg" \
  -F document_type=EVIDENCE | jq -r .id)
curl -fsS "$W/punchlist-items/$ITEM/rectify" -H "authorization: Bearer $D" -H "$J" \
  -d "{\"evidence_document_id\":\"$EV\"}" | jq -c '{item_code, status}'
curl -fsS "$W/punchlist-items/$ITEM/verify" -H "authorization: Bearer ${TOK[$RAISER]}" -H "$J" \
  -d '{"accept":true}' | jq -c '{item_code, status}'
curl -fsS -X POST "$W/punchlist-items/$ITEM/close" -H "authorization: Bearer ${TOK[$RAISER]}" | jq -c '{item_code, status}'
curl -fsS "$W/submissions/$S" -H "authorization: Bearer $D" | jq -c '{submission_code, status}'

echo '## 5. the timeline: every stage, assignee, decision and action, in order'
curl -fsS "$W/submissions/$S/timeline" -H "authorization: Bearer $D" \
  | jq -r '.[] | "\(.at)  \(.kind)  \(.action)  stage \(.stage_number // "-") \(.stage_name // "")  user \(.actor_user_id // "system")  \(.from_status // "") -> \(.to_status // "")"'

echo '## 6. the SLA report (atp.admin): the demo submission overdue and escalated'
A=$(login atp.admin "$DEMO_PW")
curl -fsS "$W/sla/report" -H "authorization: Bearer $A" \
  | jq -c '.groups[] | select(.dimension == "total" or .dimension == "role") | {dimension, key, open, overdue, escalated, p50_hours}'
