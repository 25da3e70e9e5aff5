/*
 * ipm registry keygen [--dir DIR]: a key pair for signing a registry's index
 * (src/sign.c), written as DIR/registry.key and DIR/registry.pub (default:
 * the directory of the configuration file). The public key goes to stdout,
 * so that `key=$(ipm registry keygen)` works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"

int cmd_registry_keygen(struct cli *cli, int argc, char **argv)
{
	struct ipm_sign_pubkey pk;
	const char *opt, *value, *dir_opt = NULL;
	char *dir = NULL, *sk_path = NULL, *pk_path = NULL, *b64 = NULL, *slash;
	int idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--dir", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--dir") != 0)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (!*value)
			return cli_usage_error(cli, "option '--dir' needs a directory");
		dir_opt = value;
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if (dir_opt) {
		dir = xstrdup(dir_opt);
	} else {
		/* next to the configuration: a secret key kept out of the
		 * registry's own repository */
		dir = xstrdup(cli->ctx.cfg.config_path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		if ((rc = ipm_mkdir_p(dir, 0700)) < 0)
			goto done;
	}
	if ((rc = ipm_sign_keygen_files(&sk_path, &pk_path, &pk, dir)) < 0)
		goto done;
	b64 = ipm_sign_pubkey_base64(&pk);
	printf("%s\n", b64);
	if (!cli->quiet)
		fprintf(stderr, "wrote secret key '%s' (keep it private) and public key '%s'\n"
			"hint: sign with 'ipm registry build DIR OUT --sign %s'; clients pin the key with "
			"'ipm registry add NAME URL --key %s'\n", sk_path, pk_path, sk_path, b64);
done:
	free(dir);
	free(sk_path);
	free(pk_path);
	free(b64);
	return rc;
}
