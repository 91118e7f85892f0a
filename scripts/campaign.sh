#!/usr/bin/env bash
# campaign.sh — a longer robustness campaign than CI's: RUNS runs (10) from fresh seeds, each with MINUTES of
# traffic (1), every run under a fault and a traffic profile chosen by its seed unless KUBEBRAIN_CAMPAIGN_FAULT or
# KUBEBRAIN_CAMPAIGN_PROFILE fix them. Each run prints its seed and the command that repeats it; a failing run
# also prints where its history was saved. Needs what the test command needs (PostgreSQL, etcd).
#
#   ./scripts/campaign.sh
#   RUNS=50 MINUTES=5 KUBEBRAIN_CAMPAIGN_FAULT=kill-silo ./scripts/campaign.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
MINUTES=${MINUTES:-1}
dotnet build Tests/KubeBrain.Tests -c Release -v quiet -nologo >/dev/null || exit 1
failed=0
for run in $(seq 1 "$RUNS"); do
  log=$(mktemp)
  KUBEBRAIN_CAMPAIGN_SECONDS=$((MINUTES * 60)) dotnet test Tests/KubeBrain.Tests -c Release --no-build \
    --filter "FullyQualifiedName~RobustnessCampaignTests.FreshSeed" --logger "console;verbosity=detailed" >"$log" 2>&1
  status=$?
  grep -E "^ *(campaign |[a-z]+-[a-z-]+-seed[0-9]+: |history saved to|to run it again)" "$log" | sed 's/^ *//'
  if [ $status -ne 0 ]; then
    failed=$((failed + 1))
    grep -E "^ *(revision|operation|watch|Assert)" "$log" | head -n 20 | sed 's/^ *//'
  fi
  rm -f "$log"
done
echo "$((RUNS - failed)) runs passed, $failed failed"
[ "$failed" -eq 0 ]
