/*
 * Which CAs an https server must chain to: the user's "ca_file"
 * (IPM_CA_FILE), instead of the system's, for every libcurl handle and
 * every libgit2 fetch; and what to say when a server's certificate is not
 * trusted, so that a registry or mirror behind an organisation's own CA
 * fails with the setting named rather than with a bare TLS message.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <git2.h>

#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/xalloc.h"
#include "fetch-internal.h"

void ipm_tls_curl(void *curl, const struct ipm_fetch_ctx *ctx)
{
	if (!ctx || !ctx->ca_file)
		return;
	curl_easy_setopt(curl, CURLOPT_CAINFO, ctx->ca_file);
	/* instead of the system's: libcurl would also search its built-in
	 * directory (/etc/ssl/certs), and libgit2 replaces its list */
	curl_easy_setopt(curl, CURLOPT_CAPATH, (char *)NULL);
}

/* Where the setting is, or would be: "IPM_CA_FILE" or "ca_file" in the
 * config file. */
static void hint_untrusted(const char *ca_file, const char *from, const char *config_path)
{
	if (ca_file && from && strcmp(from, "IPM_CA_FILE") == 0)
		ipm_error_hint("the server's certificate does not chain to a CA in '%s' (IPM_CA_FILE), "
			       "which ipm trusts instead of the system's", ca_file);
	else if (ca_file)
		ipm_error_hint("the server's certificate does not chain to a CA in '%s' (\"ca_file\" in '%s'), "
			       "which ipm trusts instead of the system's", ca_file, from ? from : "the config");
	else
		ipm_error_hint("the server's certificate is not signed by a CA this system trusts; if it is "
			       "your organisation's, set \"ca_file\" in '%s' (or IPM_CA_FILE) to its CA's PEM file",
			       config_path ? config_path : "config.json");
}

static void hint_bad_file(const char *ca_file, const char *from)
{
	if (from && strcmp(from, "IPM_CA_FILE") == 0)
		ipm_error_hint("IPM_CA_FILE='%s' must be a readable PEM file of CA certificates", ca_file);
	else
		ipm_error_hint("\"ca_file\" in '%s' must name a readable PEM file of CA certificates ('%s')",
			       from ? from : "the config", ca_file);
}

int ipm_tls_curl_hint(const struct ipm_fetch_ctx *ctx, int res)
{
	const char *ca_file = ctx ? ctx->ca_file : NULL;
	const char *from = ctx ? ctx->ca_file_from : NULL;

	switch (res) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
		hint_untrusted(ca_file, from, ipm_fetch_limits(ctx)->config_path);
		return 1;
	case CURLE_SSL_CACERT_BADFILE:
		if (!ca_file)
			return 0;
		hint_bad_file(ca_file, from);
		return 1;
	default:
		return 0;
	}
}

/* libgit2's certificate locations are one setting for the process: the
 * first https fetch sets them, under the lock so that a fetch in another
 * thread never connects before. The strings are what the hint names. */
static pthread_mutex_t git_tls_lock = PTHREAD_MUTEX_INITIALIZER;
static char *git_ca_applied;
static char *git_ca_from;
static char *git_config_path;

static void set_copy(char **slot, const char *value)
{
	if ((!*slot && !value) || (*slot && value && !strcmp(*slot, value)))
		return;
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
}

int ipm_tls_git(const struct ipm_fetch_ctx *ctx, const char *url)
{
	const char *ca_file = ctx ? ctx->ca_file : NULL;
	int rc = 0;

	if (strncmp(url, "https://", 8) != 0)
		return 0;
	pthread_mutex_lock(&git_tls_lock);
	set_copy(&git_ca_from, ctx ? ctx->ca_file_from : NULL);
	set_copy(&git_config_path, ipm_fetch_limits(ctx)->config_path);
	if (ca_file && (!git_ca_applied || strcmp(git_ca_applied, ca_file) != 0)) {
		if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca_file, (const char *)NULL) < 0) {
			const git_error *e = git_error_last();
			rc = ipm_error_set(IPM_ENET, "cannot use the CA file '%s': %s", ca_file,
					   e && e->message ? e->message : "libgit2 refused it");
			hint_bad_file(ca_file, git_ca_from);
		} else {
			set_copy(&git_ca_applied, ca_file);
		}
	}
	pthread_mutex_unlock(&git_tls_lock);
	return rc;
}

void ipm_tls_git_hint(void)
{
	const git_error *e = git_error_last();

	/* libgit2 reports an untrusted certificate as an SSL-class error
	 * ("the SSL certificate is invalid", mbedTLS's or OpenSSL's reason) */
	if (!e || e->klass != GIT_ERROR_SSL)
		return;
	pthread_mutex_lock(&git_tls_lock);
	hint_untrusted(git_ca_applied, git_ca_from, git_config_path);
	pthread_mutex_unlock(&git_tls_lock);
}
