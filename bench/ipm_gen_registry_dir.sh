#!/bin/sh
# Writes a synthetic registry directory of N entries to DIR (registry.json
# and packages/<name>.json), the same entries as ipm_gen_registry.sh writes
# as one index document, for `ipm registry build`:
#   bench/ipm_gen_registry_dir.sh N DIR
set -eu
n=$1 dir=$2
mkdir -p "$dir/packages"
printf '{ "name": "synthetic", "description": "a synthetic registry for the benchmarks" }\n' >"$dir/registry.json"
awk -v n="$n" -v dir="$dir/packages" 'BEGIN {
	split("json yaml xml http git zip crypto hash audio image video font math linear algebra " \
	      "matrix vector graph tree list queue string regex unicode time date log test bench " \
	      "network socket server client parser lexer compiler database sql cache memory alloc " \
	      "thread async event loop signal file path config ini toml csv shell terminal color", w, " ")
	nw = length(w)
	srand(42)
	for (i = 0; i < n; i++) {
		a = w[int(rand() * nw) + 1]; b = w[int(rand() * nw) + 1]; c = w[int(rand() * nw) + 1]
		name = sprintf("%s-%s-%d", a, b, i)
		commit = sprintf("%08x%08x%08x%08x%08x", i, i * 7, i * 13, i * 31, i * 97)
		f = dir "/" name ".json"
		printf "{\"name\":\"%s\",\"description\":\"a %s library for %s and %s\",", name, a, b, c > f
		printf "\"keywords\":[\"%s\",\"%s\"],\"repo\":\"synth/%s\",", a, c, name > f
		printf "\"versions\":[{\"version\":\"1.%d.0\",\"git\":\"https://example.org/%s.git\",\"commit\":\"%s\"}],", i % 50, name, commit > f
		printf "\"methods\":[{\"name\":\"make\",\"build\":[\"make\"],\"install\":[\"make install\"]}]}\n" > f
		close(f)
	}
}'
