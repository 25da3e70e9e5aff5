/*
 * ipm registry build [--sign KEYFILE] [--expires DAYS] DIR OUT: compiles
 * registry directory DIR into OUT, the index document an HTTP registry
 * serves (src/publish.c). Nothing is written while any entry has a problem;
 * every problem is printed, one line each. With --sign, the index carries
 * its version and expiry and OUT.minisig is written beside it; --expires
 * alone stamps the index for signing with another tool (minisign -S).
 * An OUT that does not end in ".json" is a directory that gets the sparse
 * layout (sparse.h): OUT/index.json is the registry's URL, and the
 * signature and stamp go on that root.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/publish.h"
#include "ipm/registry.h"
#include "ipm/xalloc.h"
#include "ipm/sign.h"
#include "ipm/sparse.h"
#include "ipm/fs.h"

#define DEFAULT_VALID_DAYS 30
#define MAX_VALID_DAYS 3650

/* One line per problem: "ipm: error: MESSAGE (HINT)". */
static void print_problems(struct cli *cli, const struct ipm_problems *problems)
{
	for (size_t i = 0; i < problems->n; i++) {
		const struct ipm_problem *p = &problems->items[i];
		fprintf(stderr, "ipm: %serror:%s %s", cli->color_err ? "\033[1;31m" : "",
			cli->color_err ? "\033[0m" : "", p->message);
		if (p->hint && *p->hint)
			fprintf(stderr, " (%s)", p->hint);
		fputc('\n', stderr);
	}
}

static int ends_with_json(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && !strcmp(path + n - 5, ".json");
}

/* The sparse layout into directory outdir (created when missing, with its
 * parent required, as for OUT.json). */
static int build_sparse(struct cli *cli, const char *dir, const char *outdir, long days,
			const struct ipm_sign_seckey *sk)
{
	struct ipm_problems problems = { 0 };
	struct ipm_index index = { 0 };
	struct ipm_sparse_stats stats;
	char *root = xasprintf("%s/index.json", outdir), when[21], id[17];
	int rc, created = 0;

	if (!ipm_is_dir(outdir) && ipm_path_exists(outdir)) {
		rc = ipm_error_set(IPM_EINVAL, "output '%s' is not a directory", outdir);
		ipm_error_hint("a sparse registry is a directory; name an index file 'OUT.json' for one document");
		goto done;
	}
	if (!ipm_is_dir(outdir)) {
		char *parent = xstrdup(outdir), *slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		if (slash && *parent && !ipm_is_dir(parent)) {
			rc = ipm_error_set(IPM_ENOTFOUND, "directory '%s' of output '%s' not found", parent, outdir);
			ipm_error_hint("create it first: mkdir -p %s", parent);
			free(parent);
			goto done;
		}
		free(parent);
		if (mkdir(outdir, 0755) < 0) {
			rc = ipm_error_set(IPM_ERROR, "cannot create '%s': %s", outdir, strerror(errno));
			goto done;
		}
		created = 1;
	}
	if ((rc = ipm_publish_check_paths(dir, root)) < 0)
		goto done;
	rc = ipm_publish_index(&index, &problems, dir, 0);
	if (rc < 0 && problems.n) {
		print_problems(cli, &problems);
		fprintf(stderr, "ipm: %zu problem%s in '%s': '%s' not written\n", problems.n,
			problems.n == 1 ? "" : "s", dir, outdir);
		ipm_error_clear();
		rc = CLI_EXIT_FAILURE;
		goto done;
	}
	if (rc < 0)
		goto done;
	if ((rc = ipm_sparse_publish(&stats, &index, outdir, (int64_t)time(NULL), (int64_t)days * 86400, sk)) < 0)
		goto done;
	created = 0;
	if (!cli->quiet) {
		fprintf(stderr, "%s '%s': %zu package%s in %zu shard%s, %zu file%s written, %zu removed",
			stats.root_written ? "wrote" : "unchanged", root, stats.npackages,
			stats.npackages == 1 ? "" : "s", stats.nshards, stats.nshards == 1 ? "" : "s", stats.written,
			stats.written == 1 ? "" : "s", stats.removed);
		if (stats.version) {
			ipm_registry_time_format(when, stats.expires);
			fprintf(stderr, ", version %lld, expires %s", (long long)stats.version, when);
		}
		fputc('\n', stderr);
		if (sk) {
			ipm_sign_keyid_hex(id, sk->keyid);
			fprintf(stderr, "signed '%s.minisig': key %s\n", root, id);
		}
	}
done:
	/* an output directory this run made and filled with nothing */
	if (created)
		rmdir(outdir);
	ipm_problems_release(&problems);
	ipm_index_release(&index);
	free(root);
	return rc;
}

int cmd_registry_build(struct cli *cli, int argc, char **argv)
{
	struct ipm_problems problems = { 0 };
	struct ipm_index index = { 0 };
	struct ipm_sign_seckey sk;
	const char *opt, *value, *operands[2] = { NULL }, *sign = NULL;
	char when[21], id[17];
	size_t nops = 0;
	long days = 0;
	int idx = 1, r, rc, written = 0, kept = 0, sig_written = 0, have_key = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--sign --expires", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1 && !strcmp(opt, "--sign")) {
			if (!*value)
				return cli_usage_error(cli, "option '--sign' needs a secret key file");
			sign = value;
			continue;
		}
		if (r == 1 && !strcmp(opt, "--expires")) {
			char *end = NULL;
			days = strtol(value, &end, 10);
			if (!*value || *end || days < 1 || days > MAX_VALID_DAYS)
				return cli_usage_error(cli, "option '--expires' needs a number of days from 1 to %d",
						       MAX_VALID_DAYS);
			continue;
		}
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (nops == 2)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		operands[nops++] = argv[idx++];
	}
	if (nops != 2)
		return cli_usage_error(cli, "'registry build' needs DIR and OUT");
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if (!ends_with_json(operands[1])) {
		if (sign) {
			if ((rc = ipm_sign_seckey_load(&sk, sign)) < 0)
				return rc;
			if (!days)
				days = DEFAULT_VALID_DAYS;
		}
		rc = build_sparse(cli, operands[0], operands[1], days, sign ? &sk : NULL);
		if (sign)
			ipm_sign_seckey_clear(&sk);
		return rc;
	}
	if ((rc = ipm_publish_check_paths(operands[0], operands[1])) < 0)
		return rc;
	/* a key that cannot sign is found before any work */
	if (sign) {
		if ((rc = ipm_sign_seckey_load(&sk, sign)) < 0)
			return rc;
		have_key = 1;
		if (!days)
			days = DEFAULT_VALID_DAYS;
	}

	/* the rules every entry follows (install's): a private registry may
	 * serve http:// and file:// sources; `registry check` adds the public
	 * registry's rules */
	rc = ipm_publish_index(&index, &problems, operands[0], 0);
	if (rc < 0 && problems.n) {
		print_problems(cli, &problems);
		fprintf(stderr, "ipm: %zu problem%s in '%s': '%s' not written\n", problems.n,
			problems.n == 1 ? "" : "s", operands[0], operands[1]);
		ipm_error_clear();
		rc = CLI_EXIT_FAILURE;
		goto done;
	}
	if (rc < 0)
		goto done;
	if (days && (rc = ipm_publish_stamp(&index, &kept, operands[1], (int64_t)time(NULL),
					    (int64_t)days * 86400)) < 0)
		goto done;
	if ((rc = ipm_publish_write(&written, operands[1], index.json, index.len)) < 0)
		goto done;
	if (have_key && (rc = ipm_publish_sign(&sig_written, &index, operands[1], &sk)) < 0)
		goto done;
	if (!cli->quiet) {
		fprintf(stderr, "%s '%s': %zu package%s", written ? "wrote" : "unchanged", operands[1],
			index.npackages, index.npackages == 1 ? "" : "s");
		if (index.version) {
			ipm_registry_time_format(when, index.expires);
			fprintf(stderr, ", version %lld, expires %s", (long long)index.version, when);
		}
		fputc('\n', stderr);
		if (have_key) {
			ipm_sign_keyid_hex(id, sk.keyid);
			fprintf(stderr, "%s '%s.minisig': key %s\n", sig_written ? "signed" : "unchanged",
				operands[1], id);
		}
	}
done:
	if (have_key)
		ipm_sign_seckey_clear(&sk);
	ipm_problems_release(&problems);
	ipm_index_release(&index);
	return rc;
}
