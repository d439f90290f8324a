#!/bin/sh
# vmlab as a kselftest: runs the harness installed beside this script (bin/)
# with KTAP on stdout, which the kernel's runner (run_kselftest.sh) nests under
# this test's result line, and exits with kselftest's codes.
#
# Arguments are the harness's own (default: `all --quick`); the runner passes
# $KSELFTEST_RUN_VMLAB_SH_ARGS. --format tap is always added. Results go to
# $VMLAB_OUT (default: results/ beside this script, a folder per run, `latest`
# the newest) and the experiments' files to $VMLAB_DIR (default: $TMPDIR or
# /tmp). The exit status is the harness's (0 pass, 1 fail, 4 every experiment
# skipped), except that its 2 (bad input, or an environment it cannot work in)
# becomes 1: to kselftest, 2 means KSFT_XFAIL, an expected failure.

here=$(cd "$(dirname "$0")" && pwd)
harness="$here/bin/harness"
out="${VMLAB_OUT:-$here/results}"
dir="${VMLAB_DIR:-${TMPDIR:-/tmp}}"

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

if [ ! -x "$harness" ]; then
	echo "# vmlab: $harness is missing; install the collection with scripts/kselftest/install" >&2
	exit $KSFT_FAIL
fi
if [ $# -eq 0 ]; then
	set -- all --quick
fi
# The experiment binaries sit beside the harness; named outright, so that no
# other copy (on PATH, or a build under cargo) is taken instead.
VMLAB_EXPERIMENTS_DIR="$here/bin"
export VMLAB_EXPERIMENTS_DIR
"$harness" "$@" --format tap --out "$out" --dir "$dir"
status=$?
case $status in
	0) exit $KSFT_PASS ;;
	4) exit $KSFT_SKIP ;;
	1) exit $KSFT_FAIL ;;
	2)
		echo "# vmlab: the harness refused its input or this environment (exit 2, see above); reported as a failure" >&2
		exit $KSFT_FAIL ;;
	*)
		echo "# vmlab: the harness exited with status $status; reported as a failure" >&2
		exit $KSFT_FAIL ;;
esac
