#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# conf/aio-echod.rules.yml: the alert rules the README offers operators
# are valid, and fire when (and only when) they should.

load helpers

setup() {
	once_per_build	# no daemon: the same in every pass
	command -v promtool >/dev/null || skip "promtool (Debian package prometheus) is not installed"
}

@test "promtool check rules: the three alert rules are valid" {
	run promtool check rules "$BATS_TEST_DIRNAME/../conf/aio-echod.rules.yml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"SUCCESS: 3 rules found"* ]]
}

@test "promtool test rules: each alert fires on the series it is for, not on others" {
	cd "$BATS_TEST_DIRNAME/prometheus"
	run promtool test rules rules.test.yml
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *SUCCESS* ]]
}
