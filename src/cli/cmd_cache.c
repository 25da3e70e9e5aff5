/*
 * ipm cache list [--json] | push --to URL --key SECRET_KEY NAME...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "ipm/bincache.h"
#include "ipm/error.h"
#include "ipm/sign.h"
#include "ipm/xalloc.h"

static int cache_list(struct cli *cli, int argc, char **argv)
{
	struct ipm_bincache_entry *entries = NULL;
	const char *opt, *value;
	size_t n = 0;
	int idx = 1, r, json = 0, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, "", &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_bincache_list(&entries, &n, cli->ctx.cfg.cache)) < 0)
		return rc;
	if (json) {
		cJSON *root = cJSON_CreateArray();
		char *text;
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", entries[i].key);
			if (entries[i].name)
				cJSON_AddStringToObject(o, "name", entries[i].name);
			if (entries[i].version)
				cJSON_AddStringToObject(o, "version", entries[i].version);
			cJSON_AddNumberToObject(o, "bytes", (double)entries[i].bytes);
			cJSON_AddNumberToObject(o, "mtime", (double)entries[i].mtime);
			cJSON_AddItemToArray(root, o);
		}
		text = cJSON_Print(root);
		printf("%s\n", text);
		free(text);
		cJSON_Delete(root);
	} else {
		uint64_t total = 0;
		for (size_t i = 0; i < n; i++) {
			char *name = cli_shown_dup(entries[i].name ? entries[i].name : "?");
			char *version = cli_shown_dup(entries[i].version ? entries[i].version : "?");
			printf("%.16s  %-20s %-12s %10llu\n", entries[i].key, name, version,
			       (unsigned long long)entries[i].bytes);
			total += entries[i].bytes;
			free(name);
			free(version);
		}
		if (!cli->quiet)
			fprintf(stderr, "%zu build%s, %llu bytes in '%s/binary'\n", n, n == 1 ? "" : "s",
				(unsigned long long)total, cli->ctx.cfg.cache);
	}
	ipm_bincache_entries_free(entries, n);
	return 0;
}

/* The configured cache at url (its credentials and pinned key), or NULL. */
static const struct ipm_binary_cache_conf *configured(const struct ipm_config *cfg, const char *url)
{
	size_t len = strlen(url);

	while (len > 1 && url[len - 1] == '/')
		len--;
	for (size_t i = 0; i < cfg->nbinary_caches; i++)
		if (strlen(cfg->binary_caches[i].url) == len && strncmp(cfg->binary_caches[i].url, url, len) == 0)
			return &cfg->binary_caches[i];
	return NULL;
}

/* 1 when url has a user (and password) before its host. */
static int has_credentials(const char *url)
{
	const char *host = strstr(url, "://");

	host = host ? host + 3 : url;
	return host[strcspn(host, "@/")] == '@';
}

static int cache_push(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value, *to = NULL, *key_path = NULL;
	const char **names = xcalloc((size_t)argc, sizeof(*names));
	const struct ipm_binary_cache_conf *conf;
	struct ipm_sign_seckey sk;
	struct ipm_sign_pubkey pk;
	struct ipm_http_auth auth = { 0 };
	char *url = NULL, *pk_text = NULL, *key = NULL;
	size_t nnames = 0;
	int idx = 1, r, rc = 0, have_sk = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, "--to --key", &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			names[nnames++] = argv[idx++];
			continue;
		}
		if (strcmp(opt, "--to") == 0) {
			to = value;
		} else if (strcmp(opt, "--key") == 0) {
			key_path = value;
		} else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}
	if (nnames == 0 || !to || !*to || !key_path || !*key_path) {
		rc = cli_usage_error(cli, "%s", nnames == 0 ? "nothing to push" : !to || !*to
				     ? "option '--to URL' is required" : "option '--key SECRET_KEY' is required");
		goto done;
	}
	if (has_credentials(to)) {
		rc = ipm_error_set(IPM_EINVAL, "credentials in the URL of --to would be shown wherever it is");
		ipm_error_hint("put them in a netrc file (~/.netrc), or in the cache's \"username\" and \"password\" "
			       "in the configuration");
		goto done;
	}
	if ((rc = ipm_sign_seckey_load(&sk, key_path)) < 0)
		goto done;
	have_sk = 1;
	if ((rc = cli_open(cli)) < 0)
		goto done;
	url = xstrdup(to);
	while (strlen(url) > 1 && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = '\0';
	ipm_sign_public_of(&pk, &sk);
	pk_text = ipm_sign_pubkey_base64(&pk);
	conf = configured(&cli->ctx.cfg, url);
	if (conf) {
		auth.netrc_file = conf->netrc;
		auth.user = conf->username;
		auth.password = conf->password;
		if (conf->key && strcmp(conf->key, pk_text) != 0) {
			rc = ipm_error_set(IPM_EINVAL, "'%s' is not the secret key of the key pinned for '%s'",
					   key_path, url);
			ipm_error_hint("its public key is %s; the configuration pins %s", pk_text, conf->key);
			goto done;
		}
	}
	for (size_t i = 0; i < nnames; i++) {
		int sent = 0;
		free(key);
		key = NULL;
		if ((rc = ipm_bincache_save_installed(&key, &cli->ctx, names[i])) < 0)
			goto done;
		if ((rc = ipm_bincache_push(&sent, &cli->ctx, url, &auth, &sk, key)) < 0) {
			ipm_error_prefix("pushing '%s'", names[i]);
			goto done;
		}
		printf("%s %s %s\n", names[i], key, sent ? "pushed" : "already there");
	}
	fflush(stdout);
done:
	if (have_sk)
		ipm_sign_seckey_clear(&sk);
	free(names);
	free(url);
	free(pk_text);
	free(key);
	return rc;
}

int cmd_cache(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(cli, "which cache command? list or push");
	if (strcmp(argv[1], "list") == 0)
		return cache_list(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "push") == 0)
		return cache_push(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "unknown cache command '%s'", argv[1]);
}
