# Reads the KTAP of one vmlab run (`run`/`all --format tap`: experiments at
# the top level, their claims one level in) and prints what run-vmlab reports,
# one tab-separated line each:
#   SET <experiment>                      a nested block starts
#   CASE <name> <pass|fail|skip> <reason> a result line
#   STOP                                  the block's parent result follows
# Claims are named <experiment>.<claim>; a top-level result <experiment>.

# "ok 3 name # XFAIL why" -> CASE line; prefix names the experiment for claims.
function report(line, prefix,    failed, rest, name, directive, reason, result, cut) {
	failed = (line ~ /^not ok /)
	rest = line
	sub(/^(not )?ok [0-9]+ /, "", rest)
	name = rest
	directive = ""
	reason = ""
	cut = index(rest, " # ")
	if (cut > 0) {
		name = substr(rest, 1, cut - 1)
		directive = substr(rest, cut + 3)
		reason = directive
		sub(/^[A-Z]+ ?/, "", reason)
		sub(/ .*/, "", directive)
	}
	if (failed) result = "fail"
	else if (directive == "SKIP") result = "skip"
	else result = "pass"
	if (directive == "XFAIL") reason = "XFAIL (refuted as declared): " reason
	else if (directive == "XPASS") reason = "XPASS (confirmed, although a refutation was declared): " reason
	else if (directive == "ERROR") reason = "ERROR: " reason
	printf "CASE\t%s%s\t%s\t%s\n", prefix, name, result, reason
}

/^  # Subtest: / {
	experiment = substr($0, 14)
	printf "SET\t%s\n", experiment
	next
}
/^  (not )?ok [0-9]+ / {
	line = $0
	sub(/^  /, "", line)
	report(line, experiment ".")
	next
}
/^(not )?ok [0-9]+ / {
	if (experiment != "") print "STOP"
	experiment = ""
	report($0, "")
	next
}
