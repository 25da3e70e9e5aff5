#ifndef IPM_CTX_H
#define IPM_CTX_H
#include "config.h"
#include "db.h"
#include "fetch.h"
#include "sandbox.h"
/*
 * Everything a command works with, set up once by src/cli/main.c according to
 * the command table (database for reading or writing, the lock, the network).
 */
struct ipm_lock;

struct ipm_ctx {
	struct ipm_config cfg;
	struct ipm_db *db;
	struct ipm_fetch_ctx fetch;     /* cache_dir = cfg.cache, mirrors = cfg.mirrors */
	struct ipm_lock *lock;          /* NULL unless the command takes it */
	int assume_yes;                 /* -y: the user approved every step */
	int interactive;                /* stdin and stderr are terminals */
	struct ipm_sandbox sandbox;     /* see ipm_ctx_sandbox */
	int sandbox_known;
	/* The command as typed ("ipm install jq"), set by the command line
	 * after ipm_ctx_open: what `ipm history` shows for the transaction a
	 * command makes. NULL: "(unknown)". Not owned. */
	const char *command_line;
};

enum ipm_ctx_needs {
	IPM_NEED_DB_READ = 1 << 0,
	IPM_NEED_DB_WRITE = 1 << 1,   /* implies the lock, and journal recovery */
	IPM_NEED_LOCK = 1 << 2,
	/* Reads the registry index: the read database when every local
	 * registry is imported and unchanged, else the write database (which
	 * re-imports them first). */
	IPM_NEED_DB_LOOKUP = 1 << 3,
	/* With DB_WRITE: a local registry that fails to import is a warning,
	 * not an error, so that `ipm registry remove` can drop a broken one. */
	IPM_NEED_SYNC_WARN = 1 << 4,
	/* The command acts on the prefix. One IPM_HOME serves one prefix: its
	 * store trees are built for that prefix, and their files name it. With
	 * packages installed into another prefix this is IPM_ECONFLICT naming
	 * both, with a hint. */
	IPM_NEED_PREFIX = 1 << 5,
};

/* Loads the configuration, then sets up what `needs` asks for. Taking the
 * write database also takes the lock ($IPM_HOME/lock) and runs
 * ipm_recover() to clean what an interrupted ipm left. */
int ipm_ctx_open(struct ipm_ctx *ctx, const char *argv0, const char *prefix_override, unsigned needs);
void ipm_ctx_close(struct ipm_ctx *ctx);

/* How recipe steps run here: bubblewrap found and proven once per process,
 * or ->bwrap NULL with ->why_not (also when the config says "sandbox":
 * "off"). */
const struct ipm_sandbox *ipm_ctx_sandbox(struct ipm_ctx *ctx);
#endif
