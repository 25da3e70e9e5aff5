/*
 * The context a command runs in: configuration, database, lock, fetch settings.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipm/ctx.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/lock.h"
#include "ipm/log.h"
#include "ipm/registry.h"
#include "ipm/xalloc.h"

/* 1 when an interrupted install or remove left a journal to replay: a
 * journal whose ipm still runs (and holds the lock) is work in progress. */
static int journal_pending(const char *home)
{
	char *dir = xasprintf("%s/journal", home);
	char *lock_path = xasprintf("%s/lock", home);
	DIR *d = opendir(dir);
	struct dirent *de;
	int pending = 0;

	while (d && !pending && (de = readdir(d)))
		pending = de->d_name[0] != '.';
	if (d)
		closedir(d);
	if (pending && ipm_lock_busy(lock_path))
		pending = 0;
	free(dir);
	free(lock_path);
	return pending;
}

/* 1 when this user may write in home, or it does not exist yet (the
 * first writer creates it). */
static int home_writable(const char *home)
{
	return access(home, W_OK | X_OK) == 0 || errno == ENOENT;
}

/* ipm_registry_sync_local, but a registry that fails is reported and skipped. */
static int sync_local_warn(struct ipm_ctx *ctx)
{
	for (size_t i = 0; i < ctx->cfg.nregistries; i++) {
		const struct ipm_registry_conf *r = &ctx->cfg.registries[i];

		if (r->kind != IPM_REGISTRY_LOCAL)
			continue;
		if (ipm_registry_sync(ctx, r, NULL) < 0) {
			ipm_log(IPM_LOG_WARN, "%s", ipm_error_message());
			ipm_error_clear();
		}
	}
	return 0;
}

static int check_prefix(struct ipm_ctx *ctx)
{
	char *installed = NULL;
	int rc = ipm_db_installed_prefix(&installed, ctx->db);

	if (rc == IPM_ENOTFOUND)
		return 0;
	if (rc == 0 && strcmp(installed, ctx->cfg.prefix) != 0) {
		rc = ipm_error_set(IPM_ECONFLICT, "'%s' holds packages installed into '%s', not '%s'",
				   ctx->cfg.home, installed, ctx->cfg.prefix);
		ipm_error_hint("use --prefix '%s', or give the other prefix a home of its own "
			       "(IPM_HOME=DIR ipm --prefix '%s' ...)", installed, ctx->cfg.prefix);
	}
	free(installed);
	return rc;
}

int ipm_ctx_open(struct ipm_ctx *ctx, const char *argv0, const char *prefix_override, unsigned needs)
{
	char *lock_path = NULL, *db_path = NULL;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	rc = ipm_config_load(&ctx->cfg, argv0, prefix_override);
	if (rc < 0)
		goto done;
	ctx->fetch.cache_dir = ctx->cfg.cache;
	ctx->fetch.limits = &ctx->cfg.limits;
	ctx->fetch.mirrors = ctx->cfg.mirrors;
	ctx->fetch.nmirrors = ctx->cfg.nmirrors;
	ctx->fetch.ca_file = ctx->cfg.ca_file;
	ctx->fetch.ca_file_from = ctx->cfg.ca_file_from;
	ctx->interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);

	db_path = xasprintf("%s/ipm.db", ctx->cfg.home);
	/* Readers never see a half-done change (it is invisible until its
	 * transaction), but the next run of any command cleans it up. A user
	 * who cannot write the home (another user's, a read-only mount) reads
	 * it as it is: the clean-up and re-import are for one who can. */
	if ((needs & (IPM_NEED_DB_READ | IPM_NEED_DB_LOOKUP)) && journal_pending(ctx->cfg.home) &&
	    home_writable(ctx->cfg.home))
		needs = (needs & ~(unsigned)(IPM_NEED_DB_READ | IPM_NEED_DB_LOOKUP)) | IPM_NEED_DB_WRITE;
	if (needs & IPM_NEED_DB_LOOKUP) {
		rc = ipm_db_open(&ctx->db, db_path, IPM_DB_READ);
		if (rc < 0)
			goto done;
		if (ipm_registry_local_fresh(ctx))
			goto done;
		if (!home_writable(ctx->cfg.home)) {
			ipm_log(IPM_LOG_WARN, "the registry index in '%s' is out of date, and this user cannot "
				"update it; showing it as it is", ctx->cfg.home);
			goto done;
		}
		ipm_db_free(ctx->db);
		ctx->db = NULL;
		needs |= IPM_NEED_DB_WRITE;
	}
	if (needs & IPM_NEED_DB_WRITE)
		needs |= IPM_NEED_LOCK;

	if (needs & IPM_NEED_LOCK) {
		rc = ipm_mkdir_p(ctx->cfg.home, 0755);
		if (rc < 0)
			goto done;
		lock_path = xasprintf("%s/lock", ctx->cfg.home);
		rc = ipm_lock_acquire(&ctx->lock, lock_path);
		if (rc < 0)
			goto done;
	}

	if (needs & IPM_NEED_DB_WRITE) {
		/* writers may fetch, and read registries inside git checkouts */
		if ((rc = ipm_fetch_init()) < 0)
			goto done;
		rc = ipm_db_open(&ctx->db, db_path, IPM_DB_WRITE);
		if (rc < 0)
			goto done;
		/* Before anything else looks at the installed state, finish undoing
		 * what an interrupted ipm left. */
		rc = ipm_recover(ctx);
		if (rc < 0)
			goto done;
		/* Local registries are cheap to check, so an edited entry is seen
		 * by the very next command. */
		rc = (needs & IPM_NEED_SYNC_WARN) ? sync_local_warn(ctx) : ipm_registry_sync_local(ctx);
		if (rc < 0)
			goto done;
	} else if (needs & IPM_NEED_DB_READ) {
		rc = ipm_db_open(&ctx->db, db_path, IPM_DB_READ);
		if (rc < 0)
			goto done;
	}
	if ((needs & IPM_NEED_PREFIX) && ctx->db)
		rc = check_prefix(ctx);
done:
	free(lock_path);
	free(db_path);
	if (rc < 0)
		ipm_ctx_close(ctx);
	return rc;
}

const struct ipm_sandbox *ipm_ctx_sandbox(struct ipm_ctx *ctx)
{
	if (!ctx->sandbox_known) {
		if (ctx->cfg.sandbox == IPM_SANDBOX_OFF) {
			memset(&ctx->sandbox, 0, sizeof(ctx->sandbox));
			ctx->sandbox.why_not = xstrdup("the config says \"sandbox\": \"off\"");
		} else {
			char *memo = xasprintf("%s/sandbox-probe", ctx->cfg.home);
			ipm_sandbox_probe(&ctx->sandbox, NULL, ipm_is_dir(ctx->cfg.home) ? memo : NULL);
			free(memo);
		}
		ctx->sandbox_known = 1;
	}
	return &ctx->sandbox;
}

void ipm_ctx_close(struct ipm_ctx *ctx)
{
	ipm_sandbox_release(&ctx->sandbox);
	ctx->sandbox_known = 0;
	ipm_db_free(ctx->db);
	ctx->db = NULL;
	ipm_lock_release(ctx->lock);
	ctx->lock = NULL;
	ipm_config_release(&ctx->cfg);
	memset(&ctx->fetch, 0, sizeof(ctx->fetch));
}
