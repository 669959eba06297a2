#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# packaging/build-deb.sh [OUT_DIR]: build aio-echod_VERSION-1_ARCH.deb
# from this checkout, on Debian 12 with the Build-Depends of
# packaging/debian/control installed (build-essential, debhelper, cmake,
# pkg-config, libevent-dev, libconfig-dev, libsystemd-dev).
#
# The repository keeps its Debian directory in packaging/debian, not at the
# top, so the build runs in a copy of the working tree (build trees and
# .git left out) with packaging/debian copied to debian/.  The .deb, its
# debug symbols (.ddeb), .buildinfo, .changes and build.log end up in
# OUT_DIR (default: build-deb/ at the top of the checkout), whose old
# packages are removed first.  The tests are not run (nocheck).
#
# VERSION is the project() version in CMakeLists.txt.  If
# packaging/debian/changelog does not start with that version, the copy
# gets an extra changelog entry for it, and a warning says to add one.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$(date +%s)

version=$(sed -n 's/^project(aio-echod VERSION \([0-9][0-9.]*\).*/\1/p' \
	"$top/CMakeLists.txt")
if [ -z "$version" ]; then
	echo "build-deb: no project(aio-echod VERSION x.y.z) in CMakeLists.txt" >&2
	exit 1
fi

tree=$out/tree/aio-echod-$version
rm -rf "$out/tree"
rm -f "$out"/aio-echod*.deb "$out"/aio-echod*.ddeb \
	"$out"/aio-echod*.buildinfo "$out"/aio-echod*.changes
mkdir -p "$tree"
# The working tree as it is, edits included; no build output.
tar -C "$top" --exclude='./build*' --exclude=./.git -cf - . |
	tar -C "$tree" -xf -
rm -rf "$tree/debian"
cp -r "$top/packaging/debian" "$tree/debian"

debver=$(cd "$tree" && dpkg-parsechangelog -S Version)
if [ "${debver%-*}" != "$version" ]; then
	echo "build-deb: warning: packaging/debian/changelog is at $debver," \
		"CMakeLists.txt at $version; add an entry for $version-1" >&2
	maint=$(cd "$tree" && dpkg-parsechangelog -S Maintainer)
	{
		printf 'aio-echod (%s-1) UNRELEASED; urgency=medium\n\n' "$version"
		printf '  * Upstream version %s (entry made by build-deb.sh).\n\n' \
			"$version"
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat "$tree/debian/changelog"
	} >"$tree/debian/changelog.new"
	mv "$tree/debian/changelog.new" "$tree/debian/changelog"
fi

echo "build-deb: building aio-echod $version in $tree"
if ! (cd "$tree" &&
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
		dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log"
	echo "build-deb: FAILED (whole log: $out/build.log)" >&2
	exit 1
fi
mv "$out/tree"/aio-echod*.deb "$out/tree"/aio-echod*.buildinfo \
	"$out/tree"/aio-echod*.changes "$out/"
mv "$out/tree"/aio-echod*.ddeb "$out/" 2>/dev/null || true
rm -rf "$out/tree"
echo "build-deb: built in $(($(date +%s) - start)) s:"
ls "$out"/aio-echod_*.deb
