#!/bin/sh
# Writes a synthetic HTTP registry index of N entries to OUT:
#   bench/ipm_gen_registry.sh N OUT
# Names, descriptions and keywords are drawn from a small vocabulary so that
# searches hit realistic numbers of entries.
set -eu
n=$1 out=$2
awk -v n="$n" 'BEGIN {
	split("json yaml xml http git zip crypto hash audio image video font math linear algebra " \
	      "matrix vector graph tree list queue string regex unicode time date log test bench " \
	      "network socket server client parser lexer compiler database sql cache memory alloc " \
	      "thread async event loop signal file path config ini toml csv shell terminal color", w, " ")
	nw = length(w)
	srand(42)
	printf "{\"registry\":{\"name\":\"synthetic\"},\"packages\":[\n"
	for (i = 0; i < n; i++) {
		a = w[int(rand() * nw) + 1]; b = w[int(rand() * nw) + 1]; c = w[int(rand() * nw) + 1]
		name = sprintf("%s-%s-%d", a, b, i)
		commit = sprintf("%08x%08x%08x%08x%08x", i, i * 7, i * 13, i * 31, i * 97)
		printf "%s{\"name\":\"%s\",\"description\":\"a %s library for %s and %s\",", (i ? ",\n" : ""), name, a, b, c
		printf "\"keywords\":[\"%s\",\"%s\"],\"repo\":\"synth/%s\",", a, c, name
		printf "\"versions\":[{\"version\":\"1.%d.0\",\"git\":\"https://example.org/%s.git\",\"commit\":\"%s\"}],", i % 50, name, commit
		printf "\"methods\":[{\"name\":\"make\",\"build\":[\"make\"],\"install\":[\"make install PREFIX=$IPM_PREFIX\"]}]}"
	}
	printf "\n]}\n"
}' > "$out"
