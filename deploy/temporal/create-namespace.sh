#!/bin/sh
# Registers coursehook's namespace once the server answers, and waits until it
# can be used. The temporalio/server image does not create a namespace itself
# (the retired auto-setup image did). Safe to run on every start.
set -eu

: "${TEMPORAL_ADDRESS:?}"
namespace=${TEMPORAL_NAMESPACE:-default}
retention=${NAMESPACE_RETENTION:-168h}
attempts=${WAIT_ATTEMPTS:-60}

# wait_for runs its arguments until they succeed, up to $attempts times.
wait_for() {
	n=0
	until "$@" >/dev/null 2>&1; do
		n=$((n + 1))
		if [ "$n" -ge "$attempts" ]; then
			echo "create-namespace: gave up waiting for: $*" >&2
			"$@" >&2 || true
			return 1
		fi
		sleep 2
	done
}

wait_for temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$namespace" >/dev/null 2>&1; then
	echo "create-namespace: namespace $namespace already exists"
else
	temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$namespace" --retention "$retention"
fi

# A new namespace reaches every frontend's cache only after a refresh (up to
# about 15 seconds); until then calls on it fail with "namespace not found".
# Listing workflows goes through that cache, so success means the worker can
# poll and the webhook server can start workflows.
wait_for temporal workflow list --address "$TEMPORAL_ADDRESS" --namespace "$namespace" --limit 1

# Then coursehook's search attributes (workflows.SearchAttributeTypes). The
# binaries check them at start and would register them too, but this job runs
# with the admin tools' rights, which a production worker may not have.
existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$namespace" 2>/dev/null || true)
for spec in CourseId:Keyword CompanyId:Keyword LearnerHash:Keyword CompletionStatus:Keyword FailedSteps:KeywordList; do
	name=${spec%%:*}
	if printf '%s\n' "$existing" | grep -qw "$name"; then
		echo "create-namespace: search attribute $name already exists"
	else
		temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$namespace" --name "$name" --type "${spec#*:}"
	fi
done

# A new attribute reaches every frontend's namespace cache only after a
# refresh too: until then a workflow start that sets it fails with
# InvalidArgument "no mapping defined for search attribute ...", and the
# webhook server keeps the event as a dead letter. A query goes through the
# same mapping, so one that names every attribute succeeding means starts
# will find them. It names workflows.SearchAttributeTypes, as the loop does
# (deploy/temporal_test.go holds both to it).
wait_for temporal workflow list --address "$TEMPORAL_ADDRESS" --namespace "$namespace" --limit 1 \
	--query "CourseId = '' AND CompanyId = '' AND LearnerHash = '' AND CompletionStatus = '' AND FailedSteps = ''"

echo "create-namespace: namespace $namespace is ready"
